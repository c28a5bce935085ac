"""The tutorial's processed_data folder: X.npy, Y.npy, T.npy and pid.npy, already windows."""

from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from spectrohar.cache.layout import NO_OFFSET, window_dataset, window_length
from spectrohar.cache.recording import finite_median
from spectrohar.cache.windows import CHUNK_WINDOWS, RATE_TOLERANCE, check_unit, digest, in_g
from spectrohar.errors import DataError
from spectrohar.sources import checked_ids, source_folder

PROCESSED = ("X.npy", "Y.npy", "T.npy", "pid.npy")
# The accepted dtypes by kind: floats, strings, datetime64.
PROCESSED_KINDS = {"X.npy": "f", "Y.npy": "US", "T.npy": "M", "pid.npy": "US"}


def participants(settings) -> list[str]:
    """The ids in pid.npy; the arrays are checked whole here, once, not by every job."""
    folder = source_folder(settings.source)
    pid = read_processed(folder, settings.windows)[3]
    return checked_ids(np.unique(pid).tolist(), folder / "pid.npy")


def inputs(settings, participant) -> dict[str, str]:
    """All four arrays: every participant's job reads its rows of them."""
    return {name.removesuffix(".npy"): f"{settings.source.path}/{name}" for name in PROCESSED}


def read(inputs, participant, *, source, windows) -> xr.Dataset:
    """The participant's rows (already windows: nothing to calibrate)."""
    return window_arrays(Path(inputs["X"]).parent, participant, windows)


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


def read_processed(folder, windows):
    """The tutorial's processed_data arrays, X memory-mapped, checked against each other and
    against the `windows` settings."""
    folder = Path(folder)
    window_samples = windows.samples
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
    t, pid = t.astype("datetime64[ns]"), pid.astype(str)
    check_starts(folder / "T.npy", t, pid, windows)
    return x, y.astype(str), t, pid


def check_starts(path, start, pid, windows) -> None:
    """Each participant's windows (`start` times, participant `pid`, of the file `path`) start
    at distinct times, most often (the modal step between consecutive starts) the step of the
    `windows` settings or more apart: a shorter step means windows that overlap more than the
    settings say (windows further apart are gaps, taken as they are)."""
    order = np.lexsort((start, pid))
    start, pid = start[order], pid[order]
    same = pid[1:] == pid[:-1]
    step, later, owner = np.diff(start.view("int64"))[same], start[1:][same], pid[1:][same]
    repeated = np.flatnonzero(step == 0)
    if repeated.size:
        raise DataError(
            f"{path}: participant {str(owner[repeated[0]])!r} has two windows starting at "
            f"{later[repeated[0]]} ({repeated.size} repeated starts); a participant's windows "
            "start at distinct times"
        )
    # The smallest of equally common steps: refused sooner than let windows overlap unsaid.
    modal = pd.Series(step, index=owner).groupby(level=0).agg(lambda s: s.mode().iloc[0])
    short = modal[modal < windows.step * 1e9 * (1 - RATE_TOLERANCE)]
    if len(short):
        participant, step_s = short.index[0], short.iloc[0] / 1e9
        setting = (
            f"windows.step_s {windows.step_s:g} s"
            if windows.step_s is not None
            else f"windows.length_s {windows.length_s:g} s (windows.step_s is unset)"
        )
        raise DataError(
            f"{path}: participant {participant!r}'s windows start {step_s:g} s apart (the most "
            f"common step), less than {setting}, so its {windows.samples}-sample windows of "
            f"{windows.length_s:g} s at windows.sample_rate {windows.sample_rate:g} Hz overlap; "
            f"set windows.step_s: {step_s:g} to take them as overlapping windows {step_s:g} s "
            "apart (if they do not overlap, windows.length_s and windows.sample_rate do not "
            "describe them)"
        )


def covered_hours(start, length_s) -> float:
    """Hours the union of the windows [start, start + length_s) covers, `start` sorted."""
    length = window_length(length_s)
    covered = np.minimum(np.diff(start, append=start[-1:] + length), length)
    return float(covered.sum() / np.timedelta64(1, "h"))


def window_arrays(folder, participant, windows) -> xr.Dataset:
    """One participant's windows of processed_data, copied chunk by chunk, windows with NaN or
    infinite values dropped, under the `windows` settings."""
    folder = Path(folder)
    x, y, t, pid = read_processed(folder, windows)
    index = np.flatnonzero(pid == participant)
    has_nan, has_inf = np.zeros(len(index), bool), np.zeros(len(index), bool)
    magnitude = np.zeros(len(index))

    def scanned():
        """The starts, then the rows chunk by chunk, each chunk's windows checked for NaN and
        infinite values and measured as it is read: one pass over the rows, hashed as it goes."""
        yield t[index]
        for start in range(0, len(index), CHUNK_WINDOWS):
            part = slice(start, start + CHUNK_WINDOWS)
            chunk = np.asarray(x[index[part]], dtype=np.float32)
            has_nan[part] = np.isnan(chunk).any(axis=(1, 2))
            has_inf[part] = np.isinf(chunk).any(axis=(1, 2)) & ~has_nan[part]
            with np.errstate(invalid="ignore"):
                magnitude[part] = np.median(np.linalg.norm(chunk, axis=2), axis=1)
            yield chunk

    recording_digest = digest(scanned())
    finite = ~has_nan & ~has_inf
    hours = covered_hours(np.sort(t[index]), windows.length_s)
    acceleration = da.from_array(x, chunks=(CHUNK_WINDOWS, -1, -1))[index[finite]]
    check_unit(folder / "X.npy", finite_median(magnitude[finite]), windows.unit)
    acceleration = in_g(acceleration.astype(np.float32), windows.unit)
    return window_dataset(
        acceleration.rechunk((CHUNK_WINDOWS, -1, -1)),
        t[index[finite]],
        y[index[finite]],
        sample_rate=windows.sample_rate,
        window_length_s=windows.length_s,
        window_step_s=windows.step,
        rows_read=len(index),
        # processed_data holds whole windows, each with its annotation: none are incomplete or
        # unannotated, and all the time they cover is annotated.
        hours_recorded=hours,
        hours_annotated=hours,
        windows_dropped={"nan": has_nan.sum(), "infinite": has_inf.sum()},
        recording_digest=recording_digest,
        time_zone=NO_OFFSET,
    )
