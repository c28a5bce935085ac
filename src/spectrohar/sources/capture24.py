"""A folder of Capture-24 style recordings: `<participant>.csv.gz` or `<participant>.csv`.

A recording's header names `time`, `x`, `y`, `z` and, where it is annotated, `annotation`, in
any case and order; other columns are ignored, and a recording without an annotation column is
unannotated. Timestamps are read as written, or, when they carry a zone offset (or `Z`), on the
wall clock of the first timestamp's offset: the wearer's days stay whole and times keep
increasing across a daylight-saving change. The folder's dictionary and metadata are no
recordings.
"""

import csv
import datetime
import hashlib
import io
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import xarray as xr

from spectrohar.cache.layout import AXES, NO_OFFSET
from spectrohar.cache.windows import window_recording
from spectrohar.errors import DataError
from spectrohar.sources import checked_ids, refuse_copies, source_folder
from spectrohar.sources.labels import DICTIONARY
from spectrohar.sources.metadata import METADATA

SUFFIXES = (".csv.gz", ".csv")
NOT_RECORDINGS = (DICTIONARY, METADATA)
GZIP_MAGIC = b"\x1f\x8b"
TIME, ANNOTATION = "time", "annotation"
COLUMNS = {
    TIME: pa.timestamp("ns"),
    # Parsed as float64 then rounded to float32, like numpy and pandas do.
    **dict.fromkeys(AXES, pa.float64()),
    # Dictionary-encoded: ten million rows share a few dozen annotation strings.
    ANNOTATION: pa.dictionary(pa.int32(), pa.string()),
}
EXPECTED = f"{','.join(COLUMNS)}, in any case, annotation optional"
# Timestamps with a zone offset are read as instants (UTC), then put on the first one's clock.
WITH_OFFSET = pa.timestamp("ns", tz="UTC")
FIRST_OFFSET = " (offset of the first timestamp)"  # after the offset, in a recording's time zone
_CONVERSION_ERROR = re.compile(
    r"In CSV column #(\d+): CSV conversion error to [^:]+: "
    r"(invalid value|expected no zone offset in|expected a zone offset in) '(.*)'"
)


def participants(settings) -> list[str]:
    """The ids of the folder's recordings, each file's name without its suffix; unusable ids,
    broken links, an id as both .csv and .csv.gz and identical files stop."""
    folder = source_folder(settings.source)
    by_id = defaultdict(list)
    for suffix in SUFFIXES:
        for path in folder.glob(f"*{suffix}"):
            if path.name not in NOT_RECORDINGS:
                by_id[path.name.removesuffix(suffix)].append(path)
    for participant, paths in sorted(by_id.items()):
        checked_ids([participant], paths[0])
        if len(paths) > 1:
            plain, compressed = sorted(paths)
            raise DataError(
                f"{plain} and {compressed} are both recordings of participant {participant!r}: "
                "remove one"
            )
        if not paths[0].exists():
            raise DataError(f"{paths[0]}: is a broken symbolic link to {paths[0].readlink()}")
    refuse_identical_files([paths[0] for paths in by_id.values()])
    return sorted(by_id)


def not_recordings(folder) -> dict[str, str]:
    """Each entry of `folder` that participants() does not take for a recording, hidden ones
    too, with what it is (predict.recordings names them, so that no file there goes unread
    without a word)."""
    kinds = {
        DICTIONARY: "the annotation-label dictionary (it labels annotations), no recording",
        METADATA: "the metadata table, no recording",
    }
    found = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name in kinds:
            found[str(path)] = kinds[path.name]
        elif path.is_dir():
            found[str(path)] = "a folder: recordings are read from the folder itself, not below"
        elif not path.name.endswith(SUFFIXES):
            found[str(path)] = "not a recording file (<name>.csv.gz or <name>.csv)"
    return found


def inputs(source, participant) -> dict[str, str]:
    """The participant's recording: `<participant>.csv` where that exists, else
    `<participant>.csv.gz` (where a rule that makes the recording writes it)."""
    plain = f"{source.path}/{participant}.csv"
    return {"recording": plain if Path(plain).exists() else f"{plain}.gz"}


def read(inputs, participant, windows) -> xr.Dataset:
    """The recording's windows."""
    return window_recording(inputs["recording"], *read_recording(inputs["recording"]), windows)


def refuse_identical_files(paths) -> None:
    """Two files with the same bytes are one recording under two names: stop, naming both.
    Only files of equal size are read."""
    by_size = defaultdict(list)
    for path in paths:
        by_size[path.stat().st_size].append(path)
    same_size = (path for group in by_size.values() if len(group) > 1 for path in sorted(group))
    refuse_copies(
        ((path, file_digest(path)) for path in same_size), "are the same file (identical content)"
    )


def file_digest(path) -> str:
    """SHA-256 of the file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_recording(path) -> tuple[np.ndarray, np.ndarray, pd.Series, str]:
    """Time (datetime64[ns], increasing), acceleration (n, 3) float32 as written and annotation
    (categorical, NA where unannotated, all NA without an annotation column) of one recording
    file, and the time zone of its times: NO_OFFSET, or the first timestamp's offset."""
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
    header = first_time = None
    try:
        header, first = _head(path)
        names = _column_names(path, header)  # ours -> the file's
        first_time = dict(zip(header, first, strict=False)).get(names[TIME], "")
        offset = _zone_offset(first_time)
        types = {names[c]: COLUMNS[c] for c in names} | (
            {names[TIME]: WITH_OFFSET} if offset is not None else {}
        )
        table = pacsv.read_csv(path, convert_options=_options(types))
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: {_explain(path, error, header, first_time)}") from None
    time = table[names[TIME]].to_numpy()  # with an offset: the instants, in UTC
    if offset is not None:
        time = time + np.timedelta64(offset)
    _check_time(path, time)
    acceleration = np.stack(
        [table[names[axis]].to_numpy(zero_copy_only=False).astype(np.float32) for axis in AXES],
        axis=1,
    )
    annotation = (
        table[names[ANNOTATION]]
        if ANNOTATION in names
        else pa.nulls(len(time), COLUMNS[ANNOTATION])
    )
    time_zone = NO_OFFSET if offset is None else f"{datetime.timezone(offset)}{FIRST_OFFSET}"
    return time, acceleration, annotation.to_pandas(), time_zone


def time_offset(time_zone) -> datetime.timedelta | None:
    """The zone offset of the clock that read_recording's `time_zone` names (None: NO_OFFSET),
    so that its times less the offset are UTC."""
    if time_zone == NO_OFFSET:
        return None
    name = time_zone.removesuffix(FIRST_OFFSET)  # datetime.timezone's: UTC, UTC+01:00, ...
    if name == "UTC":
        return datetime.timedelta(0)
    return datetime.datetime.strptime(name, "UTC%z").utcoffset()


def _head(path) -> tuple[list[str], list[str]]:
    """The header and the first row of a recording file; a file without a header stops."""
    with io.TextIOWrapper(
        pa.input_stream(path, compression="detect"), encoding="utf-8-sig", newline=""
    ) as text:
        rows = csv.reader(text)
        header, first = next(rows, None), next(rows, [])
    if header is None:
        raise DataError(f"{path}: is empty (a recording's header names {EXPECTED})")
    return header, first


def _column_names(path, header) -> dict[str, str]:
    """Our column names -> the header's, matched in any case; a missing or repeated one stops."""
    names = {}
    for name in header:
        ours = name.lower()
        if ours in COLUMNS:
            if ours in names:
                raise DataError(
                    f"{path}: the header names column {ours!r} twice ({names[ours]!r} and {name!r})"
                )
            names[ours] = name
    missing = [name for name in COLUMNS if name not in names and name != ANNOTATION]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} in the header (expected {EXPECTED})")
    return names


def _zone_offset(timestamp) -> datetime.timedelta | None:
    """The zone offset written in `timestamp`, None if it has none or is no timestamp (the
    reader then says where)."""
    try:
        stamp = pd.Timestamp(timestamp)
    except ValueError:
        return None
    return None if stamp is pd.NaT else stamp.utcoffset()


def _options(columns) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=columns, include_columns=list(columns), strings_can_be_null=True
    )


def _explain(path, error, header, first_time) -> str:
    """Arrow's reason, with the line of a value that does not convert."""
    match = _CONVERSION_ERROR.search(str(error))
    if not match:
        return f"cannot be read as a Capture-24 recording: {error}"
    name, problem, value = header[int(match[1])], match[2], match[3]
    text = pacsv.read_csv(path, convert_options=_options({name: pa.string()}))[name]
    line = pc.index(text, value).as_py() + 2  # 1-based, after the header
    place = f"line {line}, column {name!r}: {value!r}"
    if problem == "invalid value":
        expected = (
            "a timestamp like 2016-11-13 02:18:00.000000" if name.lower() == TIME else "a number"
        )
        return f"{place} is not {expected}"
    has, first_has = ("has a", "none") if problem.startswith("expected no") else ("has no", "one")
    return (
        f"{place} {has} time zone offset, but the first timestamp {first_time!r} has "
        f"{first_has}: a recording's timestamps have an offset each or none"
    )


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
