"""Raw recordings -> fixed-length windows, following the Capture-24 tutorial's conventions.

Windows are bins of `window_length_s` counted from the first timestamp. A window is kept when it
holds exactly `window_length_s * sample_rate` samples, none of them NaN, and the most common raw
annotation over its samples (NA counted as a value) is not NA. Every drop is counted by reason.
"""

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import xarray as xr

from spectrohar.errors import DataError
from spectrohar.stores import STRING, write_dataset

log = logging.getLogger(__name__)

AXES = ("x", "y", "z")
DROP_REASONS = ("incomplete", "nan", "unannotated")
CHUNK_WINDOWS = 256


def read_recording(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time (datetime64[ns]), acceleration (n, 3) float32 in g and annotation (object, None
    where unannotated) of one `P###.csv.gz` file."""
    columns = {"time": pa.timestamp("ns"), **dict.fromkeys(AXES, pa.float32())}
    columns["annotation"] = pa.string()
    options = pacsv.ConvertOptions(
        column_types=columns, include_columns=list(columns), strings_can_be_null=True
    )
    try:
        table = pacsv.read_csv(path, convert_options=options)
    except (pa.ArrowInvalid, OSError, EOFError) as error:
        raise DataError(f"{path}: cannot be read as a Capture-24 recording: {error}") from None
    time = table["time"].to_numpy()
    acceleration = np.stack([table[axis].to_numpy() for axis in AXES], axis=1)
    annotation = table["annotation"].to_numpy(zero_copy_only=False)
    return time, acceleration, annotation


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
    keep = ~has_nan & (mode != unannotated)
    drops = {
        "incomplete": len(counts) - len(complete),
        "nan": int(has_nan.sum()),
        "unannotated": int((~has_nan & (mode == unannotated)).sum()),
    }
    start = time[0] + (complete[keep] * window_ns).astype("timedelta64[ns]")
    return xr.Dataset(
        {"acceleration": (("window", "sample", "axis"), windows[keep], {"units": "g"})},
        coords={
            "axis": np.asarray(AXES, dtype=STRING),
            "window_start": ("window", start),
            "annotation": ("window", np.asarray(annotations[mode[keep]], dtype=STRING)),
        },
        attrs={
            "sample_rate": sample_rate,
            "window_length_s": window_length_s,
            "rows_read": len(time),
            "windows_kept": int(keep.sum()),
            "windows_dropped": drops,
        },
    )


def build(recording, store, participant, *, sample_rate, window_length_s) -> None:
    """The windows rule: one participant's recording -> its window store."""
    time, acceleration, annotation = read_recording(recording)
    if len(time) == 0:
        raise DataError(f"{recording}: has a header but no rows")
    ds = make_windows(
        time, acceleration, annotation, sample_rate=sample_rate, window_length_s=window_length_s
    )
    participants = np.full(ds.sizes["window"], participant, dtype=object).astype(STRING)
    ds = ds.assign_coords(participant=("window", participants))
    ds.attrs.update(participant=participant, source=str(recording))
    chunks = (CHUNK_WINDOWS, *ds.acceleration.shape[1:])
    write_dataset(ds, store, encoding={"acceleration": {"chunks": chunks}})
    log.info(
        "%s: %d rows -> %d windows kept, dropped %s",
        participant,
        ds.attrs["rows_read"],
        ds.attrs["windows_kept"],
        ds.attrs["windows_dropped"],
    )
