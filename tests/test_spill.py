"""A recording cut in pieces gives the windows of the whole, wherever the pieces are cut: the
reader's pieces (any rows) and the windows' (any seconds), inside a window, inside a gap and
inside a non-wear block, with resampling, calibration and overlapping windows."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from spectrohar.cache import windows
from spectrohar.cache.recording import Recording, Spill
from spectrohar.prediction.nonwear import DEFAULT_RULE, non_wear, window_statistics
from spectrohar.settings import Windows

START = np.datetime64("2024-03-01T23:00:00", "ns")
OVERLAPPING = Windows(length_s=30, step_s=10, sample_rate=50, resample=True, unit="g", max_gap_s=1)


def wrist(rate, seed=0) -> Recording:
    """3 h at `rate` Hz of a device that moves, turns slowly, then lies still for two hours
    (non-wear), with a 7-minute gap early in its stillness, a NaN run, annotations and a warming
    temperature; its axes off by a scale and offset, turned through every orientation to
    calibrate on."""
    rng = np.random.default_rng(seed)
    n = round(3 * 3600 * rate)
    t = np.arange(n) / rate
    angle = np.stack([t / 350, t / 600], axis=1)  # turning slowly enough to be still
    gravity = np.stack(
        [
            np.cos(angle[:, 0]) * np.cos(angle[:, 1]),
            np.sin(angle[:, 0]) * np.cos(angle[:, 1]),
            np.sin(angle[:, 1]),
        ],
        axis=1,
    )
    moving = rng.normal(0, 0.2, (n, 3)) * (t < 1200)[:, None]
    still = rng.normal(0, 0.002, (n, 3))
    acceleration = ((gravity + moving + still) * 1.02 + 0.03).astype(np.float32)
    still_part = t >= 3600
    acceleration[still_part] = acceleration[np.flatnonzero(still_part)[0]] + still[still_part]
    acceleration[round(600 * rate) : round(603 * rate)] = np.nan
    keep = (t < 5000) | (t >= 5420)  # a gap inside the still stretch
    time = START + np.round(t * 1e9).astype("timedelta64[ns]")
    annotation = pd.Series(
        pd.Categorical(np.where(t < 1800, "walking", np.where(t < 2000, None, "sitting")))
    )
    return Recording(
        time=time[keep],
        acceleration=acceleration[keep],
        annotation=annotation[keep].reset_index(drop=True),
        temperature=(20 + t[keep] / 3600).astype(np.float32),
        device={"device_sample_rate_hz": 50.0},
    )


def split(recording, rows) -> list[Recording]:
    """The recording in reader pieces of `rows` rows (None: one piece)."""
    if rows is None:
        return [recording]
    return [
        Recording(
            recording.time[i : i + rows],
            recording.acceleration[i : i + rows],
            recording.annotation[i : i + rows].reset_index(drop=True),
            recording.time_zone,
            None if recording.temperature is None else recording.temperature[i : i + rows],
            recording.device,
        )
        for i in range(0, len(recording.time), rows)
    ]


def cut(recording, rows, piece_s, settings=OVERLAPPING, calibrate="on"):
    pieces = windows.window_pieces(
        "r.cwa", split(recording, rows), settings, calibrate=calibrate, piece_s=piece_s
    )
    return windows.join_windows(pieces)


@pytest.mark.parametrize("rate", [50.0, 50.5])
def test_pieces_give_the_windows_of_the_whole(rate):
    recording = wrist(rate)
    whole = cut(recording, None, 10 * 24 * 3600)
    assert whole.attrs["calibration_applied"]
    assert whole.attrs["windows_dropped"]["incomplete"] > 0  # the gap
    assert whole.attrs["windows_dropped"]["nan"] > 0  # the NaN run
    # Reader pieces of 50,003 rows end inside windows and inside the gap's neighbours;
    # windows in pieces of 1,270 s start inside a window (they overlap) and inside the gap.
    pieces = cut(recording, 50_003, 1270)
    assert pieces.attrs == whole.attrs
    np.testing.assert_array_equal(pieces.window_start, whole.window_start)
    np.testing.assert_array_equal(pieces.annotation, whole.annotation)
    if rate == 50.0:  # no filter: exactly
        np.testing.assert_array_equal(pieces.acceleration, whole.acceleration)
    else:  # downsampled through a filter that settles within its margin
        np.testing.assert_allclose(pieces.acceleration, whole.acceleration, atol=1e-6)
    rule = dataclasses.replace(DEFAULT_RULE)
    flags = [
        non_wear(window_statistics(ds.acceleration.values, 500), ds.window_start.values, 10, rule)
        for ds in (whole, pieces)
    ]
    assert flags[0].sum() > 100  # the still hour is non-wear
    np.testing.assert_array_equal(*flags)


def test_a_csv_recording_at_the_windows_rate_is_cut_as_read():
    recording = dataclasses.replace(wrist(50.0), temperature=None, device=None)
    settings = dataclasses.replace(OVERLAPPING, step_s=None)
    whole = cut(recording, None, 10 * 24 * 3600, settings, "auto")
    assert not whole.attrs["resampled"]
    pieces = cut(recording, 37_777, 333, settings, "auto")
    assert pieces.attrs == whole.attrs
    np.testing.assert_array_equal(pieces.acceleration, whole.acceleration)
    np.testing.assert_array_equal(pieces.window_start, whole.window_start)


def test_the_spill_reads_back_what_was_written_and_finds_times(tmp_path):
    recording = wrist(50.0)
    spill = Spill.write(tmp_path, split(recording, 9_999))
    assert spill.rows == len(recording.time)
    back = spill.read(12_345, 54_321)
    np.testing.assert_array_equal(back.time, recording.time[12_345:54_321])
    np.testing.assert_array_equal(back.acceleration, recording.acceleration[12_345:54_321])
    np.testing.assert_array_equal(back.temperature, recording.temperature[12_345:54_321])
    assert list(back.annotation) == list(recording.annotation[12_345:54_321])
    for row in (0, 1, 4095, 4096, 300_000, len(recording.time) - 1):
        time = recording.time[row].astype(np.int64)
        assert spill.rows_before(time) == row
        assert spill.rows_before(time, "right") == row + 1
        assert spill.rows_before(time + 1) == row + 1
    assert spill.rows_before(0) == 0
    assert spill.rows_before(np.iinfo(np.int64).max) == spill.rows
    (tmp_path / "whole").mkdir()
    other = Spill.write(tmp_path / "whole", split(recording, None))
    assert other.digest == spill.digest and other.median_step == spill.median_step
