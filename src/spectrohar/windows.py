"""Raw recordings -> fixed-length windows, following the Capture-24 tutorial's conventions.

Windows are bins of `window_length_s` counted from the first timestamp. A window is kept when it
holds exactly `window_length_s * sample_rate` samples, all of them finite, and the most common raw
annotation over its samples (NA counted as a value) is not NA. Every drop is counted by reason.
The tutorial's processed_data arrays (already windows) go into the same per-participant stores.
Acceleration is stored in g; a recording whose median vector magnitude is far from 1 g is refused.
"""

import hashlib
import logging
import re
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import scipy.signal
import xarray as xr

from spectrohar.errors import DataError
from spectrohar.stores import STRING, write_dataset

log = logging.getLogger(__name__)

AXES = ("x", "y", "z")
DROP_REASONS = ("incomplete", "nan", "infinite", "unannotated")
CHUNK_WINDOWS = 256
PROCESSED = ("X.npy", "Y.npy", "T.npy", "pid.npy")
RATE_TOLERANCE = 0.005  # relative: a 100 Hz setting accepts 99.5-100.5 Hz
UNITS = {"g": 1.0, "mg": 1e-3, "m/s2": 1 / 9.80665}  # windows.unit -> g
# Over a day of wear the median vector magnitude is gravity, about 1 g: values around 9.8 are
# m/s2, around 1000 mg.
MAGNITUDE_RANGE_G = (0.3, 3.0)
# processed_data's accepted dtypes by kind: strings, datetime64, floats.
GZIP_MAGIC = b"\x1f\x8b"
PROCESSED_KINDS = {"X.npy": "f", "Y.npy": "US", "T.npy": "M", "pid.npy": "US"}


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


def measured_rate(time) -> float:
    """Samples per second from the median timestamp step."""
    return 1e9 / np.median(np.diff(time.view("int64")))


def resample_recording(time, acceleration, annotation, sample_rate):
    """The recording on a uniform `sample_rate` grid from its first timestamp.

    Linear interpolation, after a low-pass filter when downsampling; an output sample next to a
    missing input (NaN or infinite, or a step over twice the median) is NaN; annotations come
    from the last input sample at or before each output sample.
    """
    t = time.view("int64")
    grid = np.arange(t[0], t[-1] + 1, round(1e9 / sample_rate))
    previous = np.searchsorted(t, grid, side="right") - 1
    following = np.minimum(previous + 1, len(t) - 1)
    missing = ~np.isfinite(acceleration).all(axis=1)
    filled = np.stack(
        [np.interp(t, t[~missing], axis[~missing]) for axis in acceleration.T], axis=1
    )
    if sample_rate < measured_rate(time):
        sos = scipy.signal.butter(8, 0.9 * sample_rate / 2, fs=measured_rate(time), output="sos")
        filled = scipy.signal.sosfiltfilt(sos, filled, axis=0)
    out = np.stack([np.interp(grid, t, axis) for axis in filled.T], axis=1).astype(np.float32)
    step = np.median(np.diff(t))
    gap = (t[following] - t[previous]) > 2 * step
    out[gap | missing[previous] | missing[following]] = np.nan
    return grid.view("datetime64[ns]"), out, annotation.iloc[previous].reset_index(drop=True)


def make_windows(time, acceleration, annotation, *, sample_rate, window_length_s) -> xr.Dataset:
    """Cut one recording into windows: (window, sample, axis) acceleration with start and label."""
    window_samples = round(window_length_s * sample_rate)
    window_ns = round(window_length_s * 1e9)
    bins = (time - time[0]).astype("int64") // window_ns
    counts = np.bincount(bins)
    complete = np.flatnonzero(counts == window_samples)
    samples = np.searchsorted(bins, complete)[:, None] + np.arange(window_samples)

    codes, annotations = pd.factorize(annotation, sort=True)
    unannotated = len(annotations)  # NA votes get the last code, so ties prefer a real annotation
    codes = np.where(codes < 0, unannotated, codes)[samples]
    shape = (len(complete), unannotated + 1)
    votes = np.bincount(
        np.ravel_multi_index((np.arange(shape[0])[:, None], codes), shape).ravel(),
        minlength=shape[0] * shape[1],
    )
    mode = votes.reshape(shape).argmax(axis=1)

    windows = acceleration[samples]
    has_nan = np.isnan(windows).any(axis=(1, 2))
    has_inf = np.isinf(windows).any(axis=(1, 2)) & ~has_nan
    finite = ~has_nan & ~has_inf
    keep = finite & (mode != unannotated)
    start = time[0] + (complete[keep] * window_ns).astype("timedelta64[ns]")
    return as_dataset(
        windows[keep],
        start,
        np.asarray(annotations)[mode[keep]],
        sample_rate=sample_rate,
        window_length_s=window_length_s,
        rows_read=len(time),
        hours_annotated=float(np.count_nonzero(pd.notna(annotation)) / sample_rate / 3600),
        windows_dropped={
            "incomplete": len(counts) - len(complete),
            "nan": int(has_nan.sum()),
            "infinite": int(has_inf.sum()),
            "unannotated": int((finite & (mode == unannotated)).sum()),
        },
    )


def as_dataset(acceleration, window_start, annotation, **attrs) -> xr.Dataset:
    """The window store's layout: (window, sample, axis) acceleration in g, start, annotation."""
    return xr.Dataset(
        {"acceleration": (("window", "sample", "axis"), acceleration, {"units": "g"})},
        coords={
            "axis": np.asarray(AXES, dtype=STRING),
            "window_start": ("window", np.asarray(window_start, dtype="datetime64[ns]")),
            "annotation": ("window", np.asarray(annotation, dtype=STRING)),
        },
        attrs={"windows_kept": len(window_start), **attrs},
    )


def in_g(source, acceleration, magnitude, unit):
    """`acceleration` converted from `unit` to g, refused when the median of its finite vector
    magnitudes `magnitude` (in `unit`) is far from the 1 g of gravity."""
    low, high = MAGNITUDE_RANGE_G
    finite = magnitude[np.isfinite(magnitude)]
    median_magnitude = np.median(finite) if finite.size else np.nan
    median_g = median_magnitude * UNITS[unit]
    if not low <= median_g <= high:  # NaN (no finite sample) passes: its windows are dropped
        likely = min(UNITS, key=lambda name: abs(np.log(median_magnitude * UNITS[name] + 1e-12)))
        hint = (
            f"the values look like {likely}: set windows.unit: {likely} to convert them"
            if likely != unit
            else "check that this is a worn accelerometer's recording"
        )
        in_unit = "" if unit == "g" else f" ({median_g:.4g} g)"
        raise DataError(
            f"{source}: median acceleration magnitude {median_magnitude:.4g} {unit}{in_unit} is "
            f"far from gravity's 1 g ({low} to {high} g expected); {hint}"
        )
    return acceleration * np.float32(UNITS[unit]) if unit != "g" else acceleration


def digest(*arrays) -> str:
    """SHA-256 of the arrays' bytes: the same recording under two names has the same digest."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array).view(np.uint8))
    return sha.hexdigest()


def window_recording(recording, *, sample_rate, window_length_s, resample, unit="g") -> xr.Dataset:
    """Read, check and cut one `P###.csv.gz` recording."""
    time, acceleration, annotation = read_recording(recording)
    if len(time) < 2:
        raise DataError(f"{recording}: has {len(time)} rows, too few to be a recording")
    recording_digest = digest(time, acceleration)
    acceleration = in_g(recording, acceleration, np.linalg.norm(acceleration, axis=1), unit)
    rate = measured_rate(time)
    if abs(rate / sample_rate - 1) > RATE_TOLERANCE:
        if not resample:
            raise DataError(
                f"{recording}: sampled at {rate:.4g} Hz, not windows.sample_rate {sample_rate} Hz "
                "(set windows.resample: true to resample it)"
            )
        log.info("%s: resampling from %.4g Hz to %s Hz", recording, rate, sample_rate)
        time, acceleration, annotation = resample_recording(
            time, acceleration, annotation, sample_rate
        )
    ds = make_windows(
        time, acceleration, annotation, sample_rate=sample_rate, window_length_s=window_length_s
    )
    ds.attrs["recording_digest"] = recording_digest
    if ds.attrs["windows_kept"] == 0:
        log.warning("%s: no window passes the windowing rules", recording)
    return ds


def load_array(path, mmap_mode=None) -> np.ndarray:
    """A processed_data array of its accepted dtype kind, never unpickled."""
    try:
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise DataError(f"{path}: cannot be read as a .npy array: {error}") from None
        array = None  # an object array: its values would be unpickled
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot be read as a .npy array: {error}") from None
    accepted = PROCESSED_KINDS[Path(path).name]
    if array is None or array.dtype.kind not in accepted:
        names = {"f": "floats", "U": "strings", "S": "byte strings", "M": "datetime64"}
        found = (
            "Python objects (refused: loading them could run code)"
            if array is None
            else (f"{array.dtype} values")
        )
        raise DataError(
            f"{path}: holds {found}; accepted: {' or '.join(names[k] for k in accepted)}"
        )
    return array


def read_processed(folder, window_samples):
    """The tutorial's processed_data arrays, X memory-mapped, checked against each other."""
    folder = Path(folder)
    missing = [name for name in PROCESSED if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder}: no {', '.join(missing)} (processed_data has {PROCESSED})")
    x = load_array(folder / "X.npy", mmap_mode="r")
    y, t, pid = (load_array(folder / name) for name in PROCESSED[1:])
    if x.ndim != 3 or x.shape[1:] != (window_samples, 3) or x.dtype.kind != "f":
        raise DataError(
            f"{folder / 'X.npy'}: {x.dtype} array of shape {x.shape}, expected floats of shape "
            f"(windows, {window_samples}, 3) for the configured window length and sample rate"
        )
    for name, array in zip(PROCESSED[1:], (y, t, pid), strict=True):
        if array.shape != (len(x),):
            raise DataError(
                f"{folder / name}: shape {array.shape}, expected ({len(x)},), one per X.npy window"
            )
    return x, y.astype(str), t.astype("datetime64[ns]"), pid.astype(str)


def window_arrays(folder, participant, *, sample_rate, window_length_s, unit="g") -> xr.Dataset:
    """One participant's windows of processed_data, copied chunk by chunk, windows with NaN or
    infinite values dropped."""
    folder = Path(folder)
    x, y, t, pid = read_processed(folder, round(window_length_s * sample_rate))
    index = np.flatnonzero(pid == participant)
    has_nan, has_inf = np.zeros(len(index), bool), np.zeros(len(index), bool)
    magnitude = np.zeros(len(index))
    sha = hashlib.sha256(t[index].view(np.uint8))
    for start in range(0, len(index), CHUNK_WINDOWS):  # one pass over the rows, in chunks
        part = slice(start, start + CHUNK_WINDOWS)
        chunk = np.asarray(x[index[part]], dtype=np.float32)
        sha.update(chunk.view(np.uint8))
        has_nan[part] = np.isnan(chunk).any(axis=(1, 2))
        has_inf[part] = np.isinf(chunk).any(axis=(1, 2)) & ~has_nan[part]
        with np.errstate(invalid="ignore"):
            magnitude[part] = np.median(np.linalg.norm(chunk, axis=2), axis=1)
    finite = ~has_nan & ~has_inf
    acceleration = da.from_array(x, chunks=(CHUNK_WINDOWS, -1, -1))[index[finite]]
    acceleration = in_g(folder / "X.npy", acceleration.astype(np.float32), magnitude[finite], unit)
    return as_dataset(
        acceleration.rechunk((CHUNK_WINDOWS, -1, -1)),
        t[index[finite]],
        y[index[finite]],
        sample_rate=sample_rate,
        window_length_s=window_length_s,
        rows_read=len(index),
        hours_annotated=len(index) * window_length_s / 3600,
        windows_dropped={
            "incomplete": 0,
            "nan": int(has_nan.sum()),
            "infinite": int(has_inf.sum()),
            "unannotated": 0,
        },
        recording_digest=sha.hexdigest(),
    )


def build(
    source, store, participant, *, kind, on_error, sample_rate, window_length_s, resample, unit
) -> None:
    """The windows rule: one participant's recording (or processed_data rows) -> its store."""
    window = {"sample_rate": sample_rate, "window_length_s": window_length_s, "unit": unit}
    try:
        if kind == "npy":
            ds = window_arrays(source, participant, **window)
        else:
            ds = window_recording(source, resample=resample, **window)
    except DataError as error:
        if on_error == "stop":
            raise
        log.error("%s; participant skipped (source.on_error: skip)", error)
        empty = np.zeros((0, round(window_length_s * sample_rate), 3), np.float32)
        ds = as_dataset(
            empty,
            [],
            [],
            error=str(error),
            rows_read=0,
            hours_annotated=0.0,
            windows_dropped=dict.fromkeys(DROP_REASONS, 0),
            sample_rate=sample_rate,
            window_length_s=window_length_s,
        )
    participants = np.full(ds.sizes["window"], participant, dtype=object)
    ds = ds.assign_coords(participant=("window", participants.astype(STRING)))
    ds.attrs.update(participant=participant, source=str(source))
    write_dataset(ds, store, chunks={"acceleration": (CHUNK_WINDOWS, *ds.acceleration.shape[1:])})
    log.info(
        "%s: %d rows -> %d windows kept, dropped %s",
        participant,
        ds.attrs["rows_read"],
        ds.attrs["windows_kept"],
        ds.attrs["windows_dropped"],
    )
