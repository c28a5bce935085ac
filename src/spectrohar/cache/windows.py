"""Raw recordings -> fixed-length windows, following the Capture-24 tutorial's conventions.

Windows of `window_length_s` start every `window_step_s` from the first timestamp (one window
length by default: bins end to end; less: overlapping windows). A window is kept when it holds
exactly `window_length_s * sample_rate` samples, all of them finite; its annotation is the most
common raw annotation over its samples (NA counted as a value, a tie going to an annotation).
A window whose most common annotation is NA is kept too, as UNANNOTATED (a later stage predicts
on it), and counted. Every drop is counted by reason. The tutorial's processed_data arrays
(already windows) go into the same per-participant stores.
Acceleration is stored in g; a recording whose median vector magnitude is far from 1 g is refused.
"""

import dataclasses
import hashlib
import logging
import os

import numpy as np
import pandas as pd
import scipy.signal
import xarray as xr

from spectrohar.cache.calibration import (
    apply_calibration,
    fit_calibration,
    not_calibrated,
    stationary_points,
)
from spectrohar.cache.layout import (
    AXES,
    NO_OFFSET,
    UNANNOTATED,
    participant_windows,
    window_dataset,
    window_length,
)
from spectrohar.cache.stores import write_dataset
from spectrohar.errors import DataError

log = logging.getLogger(__name__)

CHUNK_WINDOWS = 256
RATE_TOLERANCE = 0.005  # relative: a 100 Hz setting accepts 99.5-100.5 Hz
GAP = 2  # a step between timestamps over GAP times the median step is a gap in the recording
UNITS = {"g": 1.0, "mg": 1e-3, "m/s2": 1 / 9.80665}  # windows.unit -> g
# Over a day of wear the median vector magnitude is gravity, about 1 g: values around 9.8 are
# m/s2, around 1000 mg.
MAGNITUDE_RANGE_G = (0.3, 3.0)
RECORDING_PREFIXES = ("device_", "calibration_")  # attributes of the recording, not the windows


def measured_rate(time) -> float:
    """Samples per second from the median timestamp step."""
    return 1e9 / np.median(np.diff(time.view("int64")))


def recorded_hours(time, annotated) -> tuple[float, float]:
    """Hours the samples at `time` cover, and the part of them covered by samples where
    `annotated` is true: each sample covers the step to the next one, or one median step where
    that step is a gap and after the last sample."""
    step = np.diff(time.view("int64"))
    median = np.median(step)
    covered = np.append(np.where(step > GAP * median, median, step), median) / 3.6e12  # ns -> h
    return float(covered.sum()), float(covered[np.asarray(annotated)].sum())


def resample_recording(time, acceleration, annotation, sample_rate, max_gap_s, temperature=None):
    """The recording on a uniform `sample_rate` grid from its first timestamp, with each grid
    sample's `temperature` where one is given (else None).

    Linear interpolation, after a low-pass filter when downsampling; an output sample next to a
    missing input (NaN or infinite) is NaN, and none is made across a step between timestamps
    longer than `max_gap_s` (a gap: the windows it touches are incomplete); annotations come from
    the last input sample at or before each output sample. The last input sample covers one
    (median) input step, as in recorded_hours: the grid reaches to its end, holding its value,
    so that a recording of whole windows stays whole windows.
    """
    t = time.view("int64")
    step = np.median(np.diff(t))
    grid_step = round(1e9 / sample_rate)
    # To the last sample's end, less half a step: a device's block timestamps jitter by
    # microseconds, which would otherwise add a sample, and a window, past the end.
    grid = np.arange(t[0], t[-1] + round(step) - grid_step // 2, grid_step)
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
    out[missing[previous] | missing[following]] = np.nan
    kept = (t[following] - t[previous]) <= max_gap_s * 1e9
    grid, out, previous = grid[kept], out[kept], previous[kept]
    if temperature is not None:
        temperature = np.interp(grid, t, temperature).astype(np.float32)
    annotation = annotation.iloc[previous].reset_index(drop=True)
    return grid.view("datetime64[ns]"), out, annotation, temperature


def make_windows(
    time, acceleration, annotation, *, sample_rate, window_length_s, window_step_s, **counts
) -> xr.Dataset:
    """Cut one recording (`time` increasing) into windows starting every `window_step_s`:
    (window, sample, axis) acceleration with start and annotation; `counts` (rows_read,
    hours_recorded, hours_annotated) are the recording's as read, before any resampling. Every
    start up to the last timestamp is a window, kept or dropped (and counted)."""
    window_samples = round(window_length_s * sample_rate)
    step = window_length(window_step_s)
    starts = time[0] + np.arange((time[-1] - time[0]) // step + 1) * step
    first = np.searchsorted(time, starts)
    held = np.searchsorted(time, starts + window_length(window_length_s)) - first
    complete = np.flatnonzero(held == window_samples)
    samples = first[complete][:, None] + np.arange(window_samples)

    codes, annotations = pd.factorize(annotation, sort=True)
    unannotated = len(annotations)  # NA votes get the last code, so ties prefer a real annotation
    annotations = np.append(np.asarray(annotations, dtype=object), UNANNOTATED)
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
    keep = ~has_nan & ~has_inf
    return window_dataset(
        windows[keep],
        starts[complete[keep]],
        annotations[mode[keep]],
        sample_rate=sample_rate,
        window_length_s=window_length_s,
        window_step_s=window_step_s,
        windows_dropped={
            "incomplete": len(starts) - len(complete),
            "nan": has_nan.sum(),
            "infinite": has_inf.sum(),
        },
        **counts,
    )


def in_g(source, acceleration, magnitude, unit, unit_hint="set windows.unit: {}"):
    """`acceleration` converted from `unit` to g, refused when the median of its finite vector
    magnitudes `magnitude` (in `unit`) is far from the 1 g of gravity, the refusal suggesting
    the unit by `unit_hint`, a format of it naming the caller's setting."""
    low, high = MAGNITUDE_RANGE_G
    finite = magnitude[np.isfinite(magnitude)]
    median_magnitude = np.median(finite) if finite.size else np.nan
    median_g = median_magnitude * UNITS[unit]
    if not low <= median_g <= high:  # NaN (no finite sample) passes: its windows are dropped
        likely = min(UNITS, key=lambda name: abs(np.log(median_magnitude * UNITS[name] + 1e-12)))
        hint = (
            f"the values look like {likely}: {unit_hint.format(likely)} to convert them"
            if likely != unit
            else "check that this is a worn accelerometer's recording"
        )
        in_unit = "" if unit == "g" else f" ({median_g:.4g} g)"
        raise DataError(
            f"{source}: median acceleration magnitude {median_magnitude:.4g} {unit}{in_unit} is "
            f"far from gravity's 1 g ({low} to {high} g expected); {hint}"
        )
    return acceleration * np.float32(UNITS[unit]) if unit != "g" else acceleration


def digest(arrays) -> str:
    """SHA-256 of the bytes of `arrays`, one after another (any iterable, so that chunks can be
    read as they are hashed): the same recording under two names has the same digest."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array).view(np.uint8))
    return sha.hexdigest()


@dataclasses.dataclass(frozen=True)
class Recording:
    """One recording as read from its file: `time` (datetime64[ns], increasing, on the clock
    `time_zone` names), `acceleration` (n, 3) float32 as written, `annotation` (categorical, NA
    where unannotated); for a device file, each sample's `temperature` (degrees C, None where
    the device records none) and `device`, its description (the store's device_* attributes;
    None for a CSV file)."""

    time: np.ndarray
    acceleration: np.ndarray
    annotation: pd.Series
    time_zone: str = NO_OFFSET
    temperature: np.ndarray | None = None
    device: dict | None = None


def calibrates(calibrate, recording: Recording) -> bool:
    """Whether the `calibrate` setting (auto, on, off; YAML's booleans for on and off) calibrates
    `recording`: auto calibrates device files only."""
    mode = {True: "on", False: "off"}.get(calibrate, calibrate)
    return mode == "on" or (mode == "auto" and recording.device is not None)


def window_recording(
    path, recording: Recording, windows, *, calibrate, unit_hint="set windows.unit: {}"
) -> xr.Dataset:
    """Check and cut the `recording` read from the file `path` under the `windows` settings,
    calibrated as the `calibrate` setting says (calibrates); a unit refused is suggested by
    `unit_hint` (in_g). A device file is always resampled from its timestamps (its rate
    wanders), a CSV file where its rate is not the windows'."""
    time, annotation, temperature = recording.time, recording.annotation, recording.temperature
    device = recording.device
    sample_rate = windows.sample_rate
    if len(time) < 2:
        raise DataError(f"{path}: has {len(time)} rows, too few to be a recording")
    recording_digest = digest((time, recording.acceleration))
    # Counted as read: resampling changes the rows, not what was recorded.
    rows_read = len(time)
    hours_recorded, hours_annotated = recorded_hours(time, pd.notna(annotation))
    magnitude = np.linalg.norm(recording.acceleration, axis=1)
    unit = windows.unit if device is None else "g"  # device files are read in g
    acceleration = in_g(path, recording.acceleration, magnitude, unit, unit_hint)
    rate = measured_rate(time)
    configured = rate if device is None else device["device_sample_rate_hz"]
    if abs(configured / sample_rate - 1) > RATE_TOLERANCE and not windows.resample:
        raise DataError(
            f"{path}: sampled at {configured:.4g} Hz, not windows.sample_rate {sample_rate} Hz "
            "(set windows.resample: true to resample it)"
        )
    resampled = device is not None or abs(rate / sample_rate - 1) > RATE_TOLERANCE
    if resampled:
        log.info("%s: resampling from %.4g Hz to %s Hz", path, rate, sample_rate)
        time, acceleration, annotation, temperature = resample_recording(
            time, acceleration, annotation, sample_rate, windows.max_gap_s, temperature
        )
    if calibrates(calibrate, recording):
        calibration = fit_calibration(stationary_points(acceleration, sample_rate, temperature))
        log.info("%s: calibration %s", path, calibration.reason)
        acceleration = apply_calibration(acceleration, calibration, temperature)
    else:
        calibration = not_calibrated(
            "off: a CSV recording (calibrate: auto calibrates device files)"
            if device is None and calibrate == "auto"
            else "off: calibrate is off"
        )
    ds = make_windows(
        time,
        acceleration,
        annotation,
        sample_rate=sample_rate,
        window_length_s=windows.length_s,
        window_step_s=windows.step,
        rows_read=rows_read,
        hours_recorded=hours_recorded,
        hours_annotated=hours_annotated,
    )
    ds.attrs.update(
        recording_digest=recording_digest,
        time_zone=recording.time_zone,
        recorded_sample_rate=float(rate),
        resampled=bool(resampled),
        **(device or {}),
        **calibration.attrs(),
    )
    if ds.attrs["windows_kept"] == 0:
        log.warning("%s: no window passes the windowing rules", path)
    return ds


def device_and_calibration(attrs) -> dict:
    """The attributes of a window store that describe the recording's device and calibration,
    device_* (none for a CSV recording) and calibration_*, as table columns: a value per axis
    in a column per axis (calibration_offset_g_x), the reader's problems joined by '; '."""
    columns = {}
    for key, value in attrs.items():
        if not key.startswith(RECORDING_PREFIXES):
            continue
        if isinstance(value, list) and len(value) == len(AXES) and key.startswith("calibration_"):
            columns |= {f"{key}_{axis}": item for axis, item in zip(AXES, value, strict=True)}
        elif isinstance(value, list):
            columns[key] = "; ".join(map(str, value))
        else:
            columns[key] = value
    return columns


def build(inputs, store, participant, *, read, source, windows) -> None:
    """The windows rule: one participant's `inputs` (files of the `source`) -> its store, read
    and cut under the `windows` settings by `read`, the source's (sources.source(kind).read)."""
    try:
        ds = read(inputs, participant, source=source, windows=windows)
    except DataError as error:
        if source.on_error == "stop":
            raise
        log.error("%s; participant skipped (source.on_error: skip)", error)
        ds = window_dataset(
            np.zeros((0, windows.samples, len(AXES)), np.float32),
            [],
            [],
            error=str(error),
            rows_read=0,
            hours_recorded=0.0,
            hours_annotated=0.0,
            windows_dropped={},
            sample_rate=windows.sample_rate,
            window_length_s=windows.length_s,
            window_step_s=windows.step,
        )
    ds = participant_windows(ds, participant, os.path.commonpath(list(inputs.values())))
    write_dataset(ds, store, chunks={"acceleration": (CHUNK_WINDOWS, *ds.acceleration.shape[1:])})
    log.info(
        "%s: %d rows -> %d windows kept (%d unannotated), dropped %s",
        participant,
        ds.attrs["rows_read"],
        ds.attrs["windows_kept"],
        ds.attrs["windows_unannotated"],
        ds.attrs["windows_dropped"],
    )
