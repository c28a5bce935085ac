"""Raw recordings -> fixed-length windows, following the Capture-24 tutorial's conventions.

Windows of `window_length_s` start every `window_step_s` from the first timestamp (one window
length by default: bins end to end; less: overlapping windows). A window is kept when it holds
exactly `window_length_s * sample_rate` samples, all of them finite; its annotation is the most
common raw annotation over its samples (NA counted as a value, a tie going to an annotation,
between annotations to the first in sorted order).
A window whose most common annotation is NA is kept too, as UNANNOTATED (a later stage predicts
on it), and counted. Every drop is counted by reason. The tutorial's processed_data arrays
(already windows) go into the same per-participant stores.
Acceleration is stored in g; a recording whose median vector magnitude is far from 1 g is refused.

A recording is cut in pieces of PIECE_S seconds, read back from a temporary copy on disk
(cache.recording), so that a week at 100 Hz needs the memory of a few hours: what needs the
whole recording (the median step and magnitude, the calibration) is gathered first, and every
piece gives exactly the windows the whole would.
"""

import dataclasses
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator

import numpy as np
import pandas as pd
import scipy.signal
import xarray as xr

from spectrohar.cache.calibration import WINDOW_S as CALIBRATION_BLOCK_S
from spectrohar.cache.calibration import (
    Points,
    apply_calibration,
    fit_calibration,
    not_calibrated,
    stationary_points,
)
from spectrohar.cache.layout import (
    AXES,
    DROP_REASONS,
    UNANNOTATED,
    participant_windows,
    window_dataset,
    window_length,
)
from spectrohar.cache.recording import Recording, Spill
from spectrohar.cache.stores import write_dataset
from spectrohar.errors import DataError

log = logging.getLogger(__name__)

CHUNK_WINDOWS = 256
RATE_TOLERANCE = 0.005  # relative: a 100 Hz setting accepts 99.5-100.5 Hz
PIECE_S = 6 * 3600  # seconds of window starts cut at a time: a week is cut in 28 pieces
FILTER_MARGIN_S = 10  # input read either side of a resampled piece, where a filter settles
PIECE_COUNTS = ("windows_kept", "windows_unannotated", "windows_dropped")  # a piece's own
UNITS = {"g": 1.0, "mg": 1e-3, "m/s2": 1 / 9.80665}  # windows.unit -> g
# Over a day of wear the median vector magnitude is gravity, about 1 g: values around 9.8 are
# m/s2, around 1000 mg.
MAGNITUDE_RANGE_G = (0.3, 3.0)
RECORDING_PREFIXES = ("device_", "calibration_")  # attributes of the recording, not the windows


@dataclasses.dataclass(frozen=True)
class Grid:
    """`size` samples `step` ns apart from `start` (ns)."""

    start: int
    step: int
    size: int

    def times(self, first, stop) -> np.ndarray:
        return self.start + np.arange(first, stop, dtype=np.int64) * self.step

    def rows_before(self, time_ns) -> int:
        """The number of grid samples before `time_ns`."""
        return int(np.clip(-(-(time_ns - self.start) // self.step), 0, self.size))


def resampling_grid(spill: Spill, sample_rate) -> Grid:
    """The regular grid at `sample_rate` from the spilled recording's first timestamp to its
    last sample's end less half a grid step: the last sample covers one median step, as in
    Spill.hours_recorded, so that a recording of whole windows stays whole windows, and a
    device's block timestamps, which jitter by microseconds, add no sample past the end."""
    step = round(1e9 / sample_rate)
    first = spill.first_time()
    end = spill.last_time() + round(spill.median_step) - step // 2
    return Grid(first, step, max(-(-(end - first) // step), 1))


def anti_aliasing(rate, sample_rate):
    """The low-pass filter (second-order sections) that resampling from `rate` down to
    `sample_rate` Hz applies first; None when not down by more than RATE_TOLERANCE (a device
    set to the windows' rate, a little fast)."""
    if sample_rate * (1 + RATE_TOLERANCE) >= rate:  # what aliases is not worth the filter
        return None
    return scipy.signal.butter(8, 0.9 * sample_rate / 2, fs=rate, output="sos")


def resample(spill: Spill, grid: Grid, first, stop, *, max_gap_s, low_pass=None):
    """Grid samples `first` to `stop` (not included) from the spilled recording: the Recording
    on the grid, and which of its samples are kept.

    Linear interpolation between the input samples either side, after the `low_pass` filter
    (second-order sections; None: none) where one is given; a grid sample next to a missing
    input (NaN or infinite) is NaN, and none is kept across a step between timestamps longer
    than `max_gap_s` (a gap: the windows it touches are incomplete); annotations come from the
    last input sample at or before each grid sample; past the last input sample its value
    holds. The filter reads FILTER_MARGIN_S more input either side, where its start-up settles,
    so that pieces give what the whole gives to a float32 rounding; without it exactly.
    """
    g = grid.times(first, stop)
    margin = 0 if low_pass is None else round(FILTER_MARGIN_S * 1e9 / spill.median_step)
    begin = max(spill.rows_before(g[0], "right") - 1 - margin, 0)
    raw = spill.read(begin, spill.rows_before(g[-1], "right") + 1 + margin)
    t = raw.time.view(np.int64)
    previous = np.searchsorted(t, g, side="right") - 1
    following = np.minimum(previous + 1, len(t) - 1)
    span = t[following] - t[previous]
    weight = np.divide(g - t[previous], span, out=np.zeros(len(g)), where=span > 0)
    weight = weight.astype(np.float32)
    acceleration = raw.acceleration
    missing = ~np.isfinite(acceleration).all(axis=1)
    if low_pass is not None:
        known = np.flatnonzero(~missing)
        if known.size:  # from the grid's start: times from one origin round alike in any piece
            relative = (t - grid.start).astype(np.float64)
            acceleration = np.stack(
                [np.interp(relative, relative[known], axis[known]) for axis in acceleration.T],
                axis=1,
            )
        acceleration = scipy.signal.sosfiltfilt(low_pass, acceleration, axis=0)

    def between(values):
        """Each grid sample's value, `weight` of the way from the one before to the next."""
        low = np.take(values, previous, axis=0).astype(np.float32)
        value = np.take(values, following, axis=0).astype(np.float32)
        value -= low
        value *= weight.reshape(-1, *[1] * (values.ndim - 1))
        value += low
        return value

    out = between(acceleration)
    out[missing[previous] | missing[following]] = np.nan
    return Recording(
        time=g.view("datetime64[ns]"),
        acceleration=out,
        annotation=raw.annotation.iloc[previous].reset_index(drop=True),
        time_zone=raw.time_zone,
        temperature=None if raw.temperature is None else between(raw.temperature),
        device=raw.device,
    ), span <= max_gap_s * 1e9


def window_starts(first, last, window_step_s) -> np.ndarray:
    """Every window start of a recording whose samples run from `first` to `last`
    (datetime64[ns]): one `window_step_s` apart from the first, up to the last."""
    step = window_length(window_step_s)
    return first + np.arange((last - first) // step + 1) * step


def make_windows(
    time,
    acceleration,
    annotation,
    starts=None,
    *,
    sample_rate,
    window_length_s,
    window_step_s,
    **attrs,
) -> xr.Dataset:
    """Cut a recording (`time` increasing) into windows at `starts` (None: window_starts of
    its time): (window, sample, axis) acceleration with start and annotation, each start kept
    or dropped (and counted); `attrs` (rows_read, hours_recorded, hours_annotated and more)
    are the recording's as read, before any resampling."""
    window_samples = round(window_length_s * sample_rate)
    if starts is None:
        starts = window_starts(time[0], time[-1], window_step_s)
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
        **attrs,
    )


def check_unit(source, median_magnitude, unit, unit_hint="set windows.unit: {}") -> None:
    """Refuse accelerations in `unit` whose finite vector magnitudes' median,
    `median_magnitude` (in `unit`), is far from the 1 g of gravity, the refusal suggesting the
    unit by `unit_hint`, a format of it naming the caller's setting."""
    low, high = MAGNITUDE_RANGE_G
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


def in_g(acceleration, unit):
    """`acceleration` in `unit` converted to g."""
    return acceleration * np.float32(UNITS[unit]) if unit != "g" else acceleration


def digest(arrays) -> str:
    """SHA-256 of the bytes of `arrays`, one after another (any iterable, so that chunks can be
    read as they are hashed): the same recording under two names has the same digest."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array).view(np.uint8))
    return sha.hexdigest()


def calibrates(calibrate, device) -> bool:
    """Whether the `calibrate` setting (auto, on, off; YAML's booleans for on and off)
    calibrates a recording of `device` (a Recording's; None: a CSV file): auto calibrates
    device files only."""
    mode = {True: "on", False: "off"}.get(calibrate, calibrate)
    return mode == "on" or (mode == "auto" and device is not None)


def window_pieces(
    path, pieces, windows, *, calibrate, unit_hint="set windows.unit: {}", piece_s=None
) -> Iterator[xr.Dataset]:
    """Check and cut the recording read from the file `path` as `pieces` (Recordings in order,
    or one Recording) under the `windows` settings, calibrated as the `calibrate` setting says
    (calibrates); a unit refused is suggested by `unit_hint` (in_g). A device file is always
    resampled from its timestamps (its rate wanders), a CSV file where its rate is not the
    windows'. One dataset for each `piece_s` seconds (None: PIECE_S) of window starts, each
    with the whole recording's attributes and its own windows' counts: join_windows makes them
    the one dataset of the recording, the same wherever the pieces were cut.

    The recording is read once into a temporary folder (cache.recording.Spill); the
    calibration is fitted on the stationary points of its samples as recorded, then applied
    piece by piece as each is cut, so that no more than a piece is in memory."""
    if isinstance(pieces, Recording):
        pieces = [pieces]
    with tempfile.TemporaryDirectory(prefix="spectrohar-") as folder:
        spill = Spill.write(folder, pieces)
        yield from _cut(path, spill, windows, calibrate, unit_hint, piece_s or PIECE_S)


def _cut(path, spill: Spill, windows, calibrate, unit_hint, piece_s) -> Iterator[xr.Dataset]:
    """window_pieces of the recording in `spill`."""
    if spill.rows < 2:
        raise DataError(f"{path}: has {spill.rows} rows, too few to be a recording")
    device, sample_rate = spill.device, windows.sample_rate
    unit = windows.unit if device is None else "g"  # device files are read in g
    check_unit(path, spill.median_magnitude, unit, unit_hint)
    rate = 1e9 / spill.median_step
    configured = rate if device is None else device["device_sample_rate_hz"]
    if abs(configured / sample_rate - 1) > RATE_TOLERANCE and not windows.resample:
        raise DataError(
            f"{path}: sampled at {configured:.4g} Hz, not windows.sample_rate {sample_rate} Hz "
            "(set windows.resample: true to resample it)"
        )
    resampled = device is not None or abs(rate / sample_rate - 1) > RATE_TOLERANCE
    grid, low_pass = None, None
    if resampled:
        log.info("%s: resampling from %.4g Hz to %s Hz", path, rate, sample_rate)
        grid, low_pass = resampling_grid(spill, sample_rate), anti_aliasing(rate, sample_rate)

    def series(first, stop) -> Recording:
        """Samples `first` to `stop` of the recording on the windows' clock, in g, less those
        across a gap."""
        if grid is None:
            piece = spill.read(first, stop)
        else:
            piece, kept = resample(
                spill, grid, first, stop, max_gap_s=windows.max_gap_s, low_pass=low_pass
            )
            piece = dataclasses.replace(
                piece,
                time=piece.time[kept],
                acceleration=piece.acceleration[kept],
                annotation=piece.annotation[kept],
                temperature=None if piece.temperature is None else piece.temperature[kept],
            )
        return dataclasses.replace(piece, acceleration=in_g(piece.acceleration, unit))

    if calibrates(calibrate, device):
        # On the samples as recorded, in blocks of CALIBRATION_BLOCK_S at their rate: pieces of
        # whole blocks give the points of the whole.
        block = round(CALIBRATION_BLOCK_S * rate)
        rows = max(round(piece_s * rate) // block, 1) * block
        points = []
        for first in range(0, spill.rows, rows):
            piece = spill.read(first, first + rows)
            points.append(
                stationary_points(in_g(piece.acceleration, unit), rate, piece.temperature)
            )
        calibration = fit_calibration(Points.concat(points))
        log.info("%s: calibration %s", path, calibration.reason)
    else:
        calibration = not_calibrated(
            "off: a CSV recording (calibrate: auto calibrates device files)"
            if device is None and calibrate == "auto"
            else "off: calibrate is off"
        )
    attrs = {
        "rows_read": spill.rows,  # counted as read: resampling changes the rows, not the record
        "hours_recorded": spill.hours_recorded,
        "hours_annotated": spill.hours_annotated,
        "recording_digest": spill.digest,
        "time_zone": spill.time_zone,
        "recorded_sample_rate": float(rate),
        "resampled": bool(resampled),
        **(device or {}),
        **calibration.attrs(),
    }
    first = np.datetime64(spill.first_time(), "ns")
    last = spill.last_time() if grid is None else grid.start + (grid.size - 1) * grid.step
    starts = window_starts(first, np.datetime64(last, "ns"), windows.step)
    length = window_length(windows.length_s).astype(np.int64)
    per_piece, kept = max(round(piece_s / windows.step), 1), 0
    for begin in range(0, len(starts), per_piece):
        these = starts[begin : begin + per_piece]
        span = these[0].astype(np.int64), these[-1].astype(np.int64) + length
        rows = [(spill if grid is None else grid).rows_before(end) for end in span]
        piece = series(*rows)
        acceleration = piece.acceleration
        if calibration.applied:
            acceleration = apply_calibration(acceleration, calibration, piece.temperature)
        ds = make_windows(
            piece.time,
            acceleration,
            piece.annotation,
            these,
            sample_rate=sample_rate,
            window_length_s=windows.length_s,
            window_step_s=windows.step,
            **attrs,
        )
        kept += ds.sizes["window"]
        yield ds
    if not kept:
        log.warning("%s: no window passes the windowing rules", path)


def join_windows(pieces) -> xr.Dataset:
    """The one dataset of a recording's pieces (window_pieces'): their windows in order, their
    counts summed."""
    pieces = list(pieces)
    attrs = {k: v for k, v in pieces[0].attrs.items() if k not in PIECE_COUNTS}
    dropped = {
        reason: sum(piece.attrs["windows_dropped"][reason] for piece in pieces)
        for reason in DROP_REASONS
    }
    return window_dataset(
        np.concatenate([piece.acceleration.values for piece in pieces]),
        np.concatenate([piece.window_start.values for piece in pieces]),
        np.concatenate([piece.annotation.values for piece in pieces]),
        windows_dropped=dropped,
        **attrs,
    )


def window_recording(path, pieces, windows, *, calibrate, unit_hint="set windows.unit: {}"):
    """The one dataset of window_pieces' (the same arguments): the windows stage's."""
    return join_windows(
        window_pieces(path, pieces, windows, calibrate=calibrate, unit_hint=unit_hint)
    )


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
