"""A folder of Capture-24 recordings: `<participant>.csv.gz` with `time,x,y,z,annotation`."""

import hashlib
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import xarray as xr

from spectrohar.errors import DataError
from spectrohar.layout import AXES
from spectrohar.sources import checked_ids, source_folder
from spectrohar.windows import window_recording

SUFFIX = ".csv.gz"
PATTERN = f"P*{SUFFIX}"
GZIP_MAGIC = b"\x1f\x8b"
COLUMNS = {
    "time": pa.timestamp("ns"),
    # Parsed as float64 then rounded to float32, like numpy and pandas do.
    **dict.fromkeys(AXES, pa.float64()),
    # Dictionary-encoded: ten million rows share a few dozen annotation strings.
    "annotation": pa.dictionary(pa.int32(), pa.string()),
}
_CONVERSION_ERROR = re.compile(
    r"In CSV column #(\d+): CSV conversion error to [^:]+: "
    r"(invalid value|expected no zone offset in) '(.*)'"
)


def participants(settings) -> list[str]:
    """The ids of the folder's recordings; stray names, broken links and identical files stop."""
    recordings = sorted(source_folder(settings.source).glob(PATTERN))
    for path in recordings:
        checked_ids([path.name.removesuffix(SUFFIX)], path)
        if not path.exists():
            raise DataError(f"{path}: is a broken symbolic link to {path.readlink()}")
    refuse_copies(recordings)
    return [path.name.removesuffix(SUFFIX) for path in recordings]


def inputs(source, participant) -> dict[str, str]:
    """One recording file."""
    return {"recording": f"{source.path}/{participant}{SUFFIX}"}


def read(inputs, participant, windows) -> xr.Dataset:
    """The recording's windows."""
    return window_recording(inputs["recording"], *read_recording(inputs["recording"]), windows)


def refuse_copies(paths) -> None:
    """Two files with the same bytes are one recording under two names: stop, naming both.
    Only files of equal size are read."""
    by_size = defaultdict(list)
    for path in paths:
        by_size[path.stat().st_size].append(path)
    for same_size in by_size.values():
        seen = {}
        for path in same_size if len(same_size) > 1 else ():
            with open(path, "rb") as f:
                key = hashlib.file_digest(f, "sha256").hexdigest()
            if key in seen:
                raise DataError(
                    f"{seen[key]} and {path} are the same file (identical content): one "
                    "recording under two participant ids would leak between the split's sets; "
                    "remove one"
                )
            seen[key] = path


def read_recording(path) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Time (datetime64[ns]), acceleration (n, 3) float32 as written and annotation
    (categorical, NA where unannotated) of one `P###.csv.gz` file, with increasing timestamps."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise DataError(f"{path}: is a broken symbolic link to {path.readlink()}")
    if path.suffix == ".gz" and path.is_file():
        with open(path, "rb") as f:
            if f.read(2) not in (GZIP_MAGIC, b""):
                raise DataError(
                    f"{path}: is named .gz but is not gzip-compressed "
                    "(compress it, or drop the .gz from its name)"
                )
    try:
        table = pacsv.read_csv(path, convert_options=_options(COLUMNS))
    except (pa.ArrowException, OSError, EOFError) as error:
        raise DataError(f"{path}: {_explain(path, error)}") from None
    time = table["time"].to_numpy()
    _check_time(path, time)
    acceleration = np.stack(
        [table[axis].to_numpy(zero_copy_only=False).astype(np.float32) for axis in AXES], axis=1
    )
    return time, acceleration, table["annotation"].to_pandas()


def _options(columns) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=columns, include_columns=list(columns), strings_can_be_null=True
    )


def _explain(path, error) -> str:
    """Arrow's reason, with the line of a value that does not convert."""
    if isinstance(error, pa.ArrowKeyError):
        missing = re.search(r"Column '(.*)' in include_columns", str(error))[1]
        return f"no column {missing!r} in the header (expected {','.join(COLUMNS)})"
    match = _CONVERSION_ERROR.search(str(error))
    if not match:
        return f"cannot be read as a Capture-24 recording: {error}"
    name, problem, value = list(COLUMNS)[int(match[1])], match[2], match[3]
    text = pacsv.read_csv(path, convert_options=_options({name: pa.string()}))[name]
    line = pc.index(text, value).as_py() + 2  # 1-based, after the header
    if problem != "invalid value":
        return (
            f"line {line}, column {name!r}: {value!r} has a time zone offset; timestamps must be "
            "local times without one, like 2016-11-13 02:18:00.000000"
        )
    expected = "a timestamp like 2016-11-13 02:18:00.000000" if name == "time" else "a number"
    return f"line {line}, column {name!r}: {value!r} is not {expected}"


def _check_time(path, time) -> None:
    missing = np.flatnonzero(np.isnat(time))
    if missing.size:
        raise DataError(f"{path}: line {missing[0] + 2}: no timestamp ({missing.size} rows)")
    step = np.diff(time.view("int64"))
    for bad, what in (
        (step == 0, "repeats the one before"),
        (step < 0, "is before the one before"),
    ):
        rows = np.flatnonzero(bad) + 1
        if rows.size:
            raise DataError(
                f"{path}: line {rows[0] + 2}: timestamp {time[rows[0]]} {what} "
                f"({rows.size} rows like it); timestamps must increase"
            )
