import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import write_recording

from spectrohar import settings
from spectrohar.cache import windows
from spectrohar.cache.recording import Recording, Spill
from spectrohar.errors import DataError
from spectrohar.settings import Windows
from spectrohar.sources import capture24, csvfile, npy

START = np.datetime64("2016-11-13T02:18:00", "ns")
SOURCE = {
    "kind": "capture24",
    "path": "unused",
    "participants": [],
    "on_error": "stop",
    "calibrate": "auto",
}
WINDOWS = Windows(length_s=30, step_s=None, sample_rate=100, resample=False, unit="g", max_gap_s=1)


def build_store(recording, store, participant, on_error="stop", **changes):
    """The windows rule on one recording file, with the windows settings `changes`."""
    windows.build(
        {"recording": str(recording)},
        store,
        participant,
        read=capture24.read,
        source=settings.section("source", {**SOURCE, "on_error": on_error}),
        windows=dataclasses.replace(WINDOWS, **changes),
    )


def grid(n, step_ms=10):
    return START + (np.arange(n) * step_ms * 1_000_000).astype("timedelta64[ns]")


def resampled(folder, time, acceleration, annotation, sample_rate, max_gap_s):
    """The recording resampled to `sample_rate` whole, as the windows stage does it: the kept
    samples' time, acceleration and annotation."""
    spill = Spill.write(folder, [Recording(time, acceleration, annotation)])
    grid = windows.resampling_grid(spill, sample_rate)
    low_pass = windows.anti_aliasing(1e9 / spill.median_step, sample_rate)
    piece, kept = windows.resample(
        spill, grid, 0, grid.size, max_gap_s=max_gap_s, low_pass=low_pass
    )
    return piece.time[kept], piece.acceleration[kept], piece.annotation[kept]


def cut(time, acceleration, annotation, step_s=30):
    """make_windows at 100 Hz in 30 s, `step_s` apart; the recording's counts, checked
    elsewhere, left at 0."""
    return windows.make_windows(
        time,
        acceleration,
        np.asarray(annotation, dtype=object),
        sample_rate=100,
        window_length_s=30,
        window_step_s=step_s,
        rows_read=0,
        hours_recorded=0.0,
        hours_annotated=0.0,
    )


def test_windows_follow_the_tutorial_rules_and_keep_the_unannotated(rng):
    # Seven 30 s bins: clean 'a'; mostly NA (kept, unannotated); clean 'b' with one NaN; 'b'/'c'
    # tie; clean 'c'; 'c' with one inf; 500 samples only.
    n = 6 * 3000 + 500
    acceleration = rng.normal(size=(n, 3)).astype(np.float32)
    annotation = np.array(
        ["a"] * 3000
        + [None] * 1600
        + ["a"] * 1400
        + ["b"] * 3000
        + ["b"] * 1500
        + ["c"] * 1500
        + ["c"] * 6500,
        dtype=object,
    )
    acceleration[6500, 2] = np.nan
    acceleration[15100, 0] = -np.inf
    ds = cut(grid(n), acceleration, annotation)

    assert ds.attrs["windows_dropped"] == {"incomplete": 1, "nan": 1, "infinite": 1}
    assert ds.attrs["windows_kept"] == 4 and ds.sizes["window"] == 4
    assert ds.attrs["windows_unannotated"] == 1
    assert list(ds.annotation.values) == ["a", "", "b", "c"]  # the tie goes to the first in order
    starts = (ds.window_start.values - START) / np.timedelta64(1, "s")
    assert list(starts) == [0, 30, 90, 120]
    np.testing.assert_array_equal(ds.acceleration.values[1], acceleration[3000:6000])
    np.testing.assert_array_equal(ds.acceleration.values[2], acceleration[9000:12000])
    assert ds.acceleration.dims == ("window", "sample", "axis")
    assert ds.acceleration.dtype == np.float32


def test_a_gap_drops_the_windows_it_cuts_and_realigns_nothing(rng):
    # 40 s of data, a 50 s gap, then 60 s: bins stay anchored at the first timestamp.
    first, second = 4000, 6000
    time = np.concatenate([grid(first), grid(second) + np.timedelta64(90, "s")])
    acceleration = rng.normal(size=(first + second, 3)).astype(np.float32)
    ds = cut(time, acceleration, ["a"] * (first + second))
    starts = (ds.window_start.values - START) / np.timedelta64(1, "s")
    assert list(starts) == [0, 90, 120]
    # Bins 1 (1000 samples) and 2 (empty, inside the gap) are incomplete; the last has 0 left.
    assert ds.attrs["windows_dropped"]["incomplete"] == 2


def test_overlapping_windows_start_every_step_and_take_their_own_samples_mode(rng):
    # Three minutes: 'a' for 50 s, 'b' for 50 s, 'c' for 80 s; a NaN at 62 s. 30 s windows every
    # 15 s start at 0, 15, ..., 165 s: the one at 165 s holds 15 s (incomplete), those at 45 and
    # 60 s hold the NaN. Modes by hand: [30, 60) is 20 s of 'a', 10 of 'b'; [75, 105) 25 of
    # 'b', 5 of 'c'; [90, 120) 10 of 'b', 20 of 'c'.
    n = 180 * 100
    acceleration = rng.normal(size=(n, 3)).astype(np.float32)
    acceleration[6200, 1] = np.nan
    annotation = ["a"] * 5000 + ["b"] * 5000 + ["c"] * 8000
    ds = cut(grid(n), acceleration, annotation, step_s=15)
    starts = (ds.window_start.values - START) / np.timedelta64(1, "s")
    assert list(starts) == [0, 15, 30, 75, 90, 105, 120, 135, 150]
    assert list(ds.annotation.values) == ["a", "a", "a", "b", "c", "c", "c", "c", "c"]
    assert ds.attrs["windows_dropped"] == {"incomplete": 1, "nan": 2, "infinite": 0}
    assert ds.attrs["windows_kept"] == 9
    assert ds.attrs["window_length_s"] == 30 and ds.attrs["window_step_s"] == 15
    np.testing.assert_array_equal(ds.acceleration.values[1], acceleration[1500:4500])
    np.testing.assert_array_equal(ds.acceleration.values[3], acceleration[7500:10500])


def test_the_windows_rule_cuts_at_the_configured_step(tmp_path, rng):
    n = 120 * 100
    recording = write_recording(
        tmp_path / "P001.csv", "2016-11-13 02:18:00", np.tile([0, 0, 1.0], (n, 1)), ["a"] * n
    )
    build_store(recording, tmp_path / "P001.zarr", "P001", step_s=10)
    ds = xr.open_zarr(tmp_path / "P001.zarr")
    starts = (ds.window_start.values - START) / np.timedelta64(1, "s")
    assert list(starts) == list(range(0, 91, 10)) and ds.attrs["window_step_s"] == 10
    # Recorded hours are the recording's, whatever the windows' overlap.
    assert ds.attrs["hours_recorded"] == pytest.approx(120 / 3600)


def test_na_majority_is_unannotated_even_with_annotations_present(rng):
    annotation = [None] * 1501 + ["a"] * 1499 + [None] * 1500 + ["a"] * 1500
    ds = cut(grid(6000), rng.normal(size=(6000, 3)).astype(np.float32), annotation)
    assert list(ds.annotation.values) == ["", "a"]  # a tie with NA goes to the annotation
    assert ds.attrs["windows_unannotated"] == 1
    assert ds.attrs["windows_dropped"] == {"incomplete": 0, "nan": 0, "infinite": 0}


def test_read_recording_parses_a_capture24_file(tmp_path, rng):
    acceleration = rng.normal(size=(500, 3)).astype(np.float32)
    annotation = ["7030 sleeping;MET 0.95"] * 200 + [None] * 100 + ["a, with comma"] * 200
    path = write_recording(
        tmp_path / "P001.csv.gz", "2016-11-13 02:18:00", acceleration, annotation
    )
    time, read, labels, time_zone = csvfile.read_recording(path)
    assert time_zone == "as written (no offset)"
    assert time.dtype == np.dtype("datetime64[ns]")
    assert time[1] - time[0] == np.timedelta64(10, "ms")
    np.testing.assert_allclose(read, acceleration, rtol=1e-6)
    assert labels.iloc[0] == "7030 sleeping;MET 0.95" and pd.isna(labels.iloc[250])
    assert labels.iloc[-1] == "a, with comma"


def test_build_writes_a_store_xarray_opens(tmp_path, rng):
    n = 3 * 3000
    acceleration = rng.normal(size=(n, 3)).astype(np.float32)
    path = write_recording(
        tmp_path / "P007.csv.gz", "2016-11-13 02:18:00", acceleration, ["a"] * 6000 + [None] * 3000
    )
    build_store(path, tmp_path / "P007.zarr", "P007")
    ds = xr.open_zarr(tmp_path / "P007.zarr")
    assert ds.sizes["window"] == 3
    assert list(ds.participant.values) == ["P007"] * 3
    assert list(ds.annotation.values) == ["a", "a", ""]
    assert list(ds.axis.values) == ["x", "y", "z"]
    assert ds.attrs["participant"] == "P007"
    assert ds.attrs["windows_dropped"] == {"incomplete": 0, "nan": 0, "infinite": 0}
    assert ds.attrs["windows_unannotated"] == 1
    assert ds.attrs["rows_read"] == n
    # 9000 samples 10 ms apart cover 90 s, the first 6000 of them (60 s) annotated.
    assert ds.attrs["hours_recorded"] == pytest.approx(90 / 3600)
    assert ds.attrs["hours_annotated"] == pytest.approx(60 / 3600)
    assert ds.attrs["time_zone"] == "as written (no offset)"
    np.testing.assert_allclose(ds.acceleration.values.reshape(-1, 3), acceleration, rtol=1e-6)


def test_a_header_only_file_is_a_clear_error(tmp_path):
    path = tmp_path / "P002.csv"
    path.write_text("time,x,y,z,annotation\n")
    with pytest.raises(DataError, match=r"P002.csv: has 0 rows, too few to be a recording$"):
        build_store(path, tmp_path / "P002.zarr", "P002")


def test_a_corrupt_file_names_itself(tmp_path):
    path = tmp_path / "P003.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=r"P003.csv.gz: cannot be read"):
        csvfile.read_recording(path)


HEADER = "time,x,y,z,annotation\n"
ROW = "2016-11-13 02:18:00.{:06d},0.1,0.2,0.9,7030 sleeping;MET 0.95\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "time,x,y,annotation\n2016-11-13 02:18:00.000000,1,2,a\n",
            r"no column 'z' in the header \(expected time,x,y,z,annotation, in any case, "
            r"annotation optional\)$",
        ),
        (
            "time,x,y,z,X\n2016-11-13 02:18:00.000000,1,2,3,4\n",
            r"the header names column 'x' twice \('x' and 'X'\)$",
        ),
        (
            HEADER + ROW.format(0) + "2016-11-13 02:18:00.010000,0.1,abc,0.9,\n",
            r"line 3, column 'y': 'abc' is not a number$",
        ),
        (
            HEADER + ROW.format(0) + "2016-13-13 02:18:00.010000,0.1,0.2,0.9,\n",
            r"line 3, column 'time': '2016-13-13 02:18:00.010000' is not a timestamp like 2016",
        ),
        (
            HEADER + ROW.format(0) + ROW.format(20000) + ROW.format(10000),
            r"line 4: timestamp 2016-11-13T02:18:00.010000000 is before the one before \(1 rows",
        ),
        (
            HEADER + ROW.format(0) + ROW.format(10000) + ROW.format(10000) + ROW.format(20000),
            r"line 4: timestamp 2016-11-13T02:18:00.010000000 repeats the one before",
        ),
        (HEADER + ROW.format(0) + ",0.1,0.2,0.9,\n", r"line 3: no timestamp \(1 rows\)"),
        ("", r"is empty \(a recording's header names time,x,y,z,annotation, in any case"),
        (
            HEADER + ROW.format(0) + "2016-11-13 02:18:00.010000+01:00,0.1,0.2,0.9,a\n",
            r"line 3, column 'time': '2016-11-13 02:18:00.010000\+01:00' has a time zone "
            r"offset, but the first timestamp '2016-11-13 02:18:00.000000' has none: a "
            r"recording's timestamps have an offset each or none$",
        ),
        (
            HEADER + "2016-11-13 02:18:00Z,0.1,0.2,0.9,a\n" + ROW.format(10000),
            r"line 3, column 'time': '2016-11-13 02:18:00.010000' has no time zone offset, but "
            r"the first timestamp '2016-11-13 02:18:00Z' has one",
        ),
    ],
    ids=[
        "missing-column",
        "repeated-column",
        "non-numeric",
        "bad-time",
        "out-of-order",
        "duplicate",
        "no-time",
        "empty",
        "offset-after-none",
        "none-after-offset",
    ],
)
def test_bad_recordings_are_named_and_placed(tmp_path, text, message):
    path = tmp_path / "P009.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"^{tmp_path}/P009.csv: {message}"):
        csvfile.read_recording(path)


def test_a_truncated_gzip_is_an_error_not_a_short_recording(tmp_path, rng):
    path = write_recording(
        tmp_path / "P004.csv.gz", "2016-11-13 02:18:00", rng.normal(size=(60000, 3)), ["a"] * 60000
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"P004.csv.gz: .*[Tt]runcated"):
        csvfile.read_recording(path)


def test_empty_cells_and_long_gaps_are_counted_not_fatal(tmp_path, rng):
    acceleration = rng.normal(size=(12000, 3))
    acceleration[100:400, 0] = np.nan  # a NaN run inside the first window
    time = np.concatenate([grid(6000), grid(6000) + np.timedelta64(2, "h")])
    ds = cut(time, acceleration.astype(np.float32), ["a"] * 12000)
    assert ds.sizes["window"] == 3
    assert ds.attrs["windows_dropped"] == {"incomplete": 242 - 4, "nan": 1, "infinite": 0}


def test_skip_mode_keeps_an_empty_store_that_says_why(tmp_path):
    path = tmp_path / "P005.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError):
        build_store(path, tmp_path / "stop.zarr", "P005")
    assert not (tmp_path / "stop.zarr").exists()
    build_store(path, tmp_path / "P005.zarr", "P005", on_error="skip")
    ds = xr.open_zarr(tmp_path / "P005.zarr")
    assert ds.sizes["window"] == 0 and ds.acceleration.shape == (0, 3000, 3)
    assert ds.attrs["error"].startswith(f"{path}: ")


def test_an_unannotated_recording_keeps_its_windows(tmp_path, rng, caplog):
    path = write_recording(
        tmp_path / "P006.csv.gz", "2016-11-13 02:18:00", rng.normal(size=(6000, 3)), [None] * 6000
    )
    build_store(path, tmp_path / "P006.zarr", "P006")
    ds = xr.open_zarr(tmp_path / "P006.zarr")
    assert list(ds.annotation.values) == ["", ""]
    assert ds.attrs["windows_unannotated"] == ds.attrs["windows_kept"] == 2
    assert ds.attrs["windows_dropped"] == {"incomplete": 0, "nan": 0, "infinite": 0}
    assert ds.attrs["hours_recorded"] == pytest.approx(60 / 3600)
    assert ds.attrs["hours_annotated"] == 0
    assert "no window passes" not in caplog.text


def test_no_finite_window_is_a_warning_and_an_empty_store(tmp_path, rng, caplog):
    acceleration = rng.normal(size=(6000, 3))
    acceleration[[10, 3010], 1] = np.nan
    path = write_recording(tmp_path / "P006.csv", "2016-11-13 02:18:00", acceleration, ["a"] * 6000)
    build_store(path, tmp_path / "P006.zarr", "P006")
    ds = xr.open_zarr(tmp_path / "P006.zarr")
    assert ds.sizes["window"] == 0
    assert ds.attrs["windows_dropped"] == {"incomplete": 0, "nan": 2, "infinite": 0}
    assert "P006.csv: no window passes the windowing rules" in caplog.text


def test_another_sample_rate_is_rejected_with_the_measured_rate(tmp_path, rng):
    path = write_recording(
        tmp_path / "P008.csv.gz", "2016-11-13 02:18:00", rng.normal(size=(1000, 3)), ["a"] * 1000
    )
    with pytest.raises(
        DataError,
        match=r"P008.csv.gz: sampled at 100 Hz, not windows.sample_rate "
        r"30 Hz \(set windows.resample: true to resample it\)$",
    ):
        capture24.read(
            {"recording": path},
            "P008",
            source=settings.section("source", SOURCE),
            windows=dataclasses.replace(WINDOWS, sample_rate=30),
        )


def test_resampling_keeps_the_signal_and_marks_what_it_cannot_know(rng, tmp_path):
    # 50 s at 100 Hz of a 2 Hz sine, a NaN run, then a 5 s gap and 10 s more; resampled to 30 Hz.
    time = np.concatenate([grid(5000), grid(1000) + np.timedelta64(55, "s")])
    seconds = (time - START) / np.timedelta64(1, "s")
    acceleration = np.stack([np.sin(2 * np.pi * 2 * seconds)] * 3, axis=1).astype(np.float32)
    acceleration[4000:4100] = np.nan
    annotation = pd.Series(["a"] * 2500 + ["b"] * 3500, dtype="category")
    t, out, labels = resampled(tmp_path, time, acceleration, annotation, 30, 1)
    step = np.diff(t)
    assert (step == np.timedelta64(33_333_333, "ns")).sum() == len(step) - 1  # and the gap's
    expected = np.sin(2 * np.pi * 2 * (t - START) / np.timedelta64(1, "s"))
    ok = ~np.isnan(out[:, 0])
    within = ok & (t <= time[-1])  # after the last sample, through its step, its value holds
    np.testing.assert_allclose(out[within, 0], expected[within], atol=0.05)
    last = np.sin(2 * np.pi * 2 * (time[-1] - START) / np.timedelta64(1, "s"))
    np.testing.assert_allclose(out[t > time[-1]], last, atol=0.05)
    seconds_out = (t - START) / np.timedelta64(1, "s")
    assert np.isnan(out[(seconds_out > 40.1) & (seconds_out < 40.9), 0]).all()  # the NaN run
    assert not ((seconds_out > 50.1) & (seconds_out < 54.9)).any()  # the gap: no samples
    assert ok[(seconds_out > 1) & (seconds_out < 39)].all()
    assert labels.iloc[int(24.9 * 30)] == "a" and labels.iloc[int(25.1 * 30) + 1] == "b"


def processed_data(folder, x, pids, rng):
    np.save(folder / "X.npy", x)
    np.save(folder / "Y.npy", np.array(["7030 sleeping;MET 0.95"] * len(x)))
    np.save(folder / "T.npy", START + np.arange(len(x)) * np.timedelta64(30, "s"))
    np.save(folder / "pid.npy", np.array(pids))
    return folder


def test_processed_data_rows_become_the_participants_store(tmp_path, rng):
    x = rng.normal(size=(600, 3000, 3)).astype(np.float32)
    x[310, 5, 1] = np.nan
    x[590, 7, 2] = np.inf
    folder = processed_data(tmp_path, x, ["P001"] * 300 + ["P002"] * 300, rng)
    ds = npy.window_arrays(folder, "P002", WINDOWS)
    assert ds.attrs["windows_dropped"] == {"incomplete": 0, "nan": 1, "infinite": 1}
    assert ds.attrs["windows_unannotated"] == 0
    assert ds.attrs["rows_read"] == 300
    # P002's 300 windows follow P001's on one 30 s grid: 150 minutes, all annotated.
    assert ds.attrs["hours_recorded"] == ds.attrs["hours_annotated"] == pytest.approx(2.5)
    assert ds.attrs["time_zone"] == "as written (no offset)"
    keep = np.r_[300:310, 311:590, 591:600]
    np.testing.assert_array_equal(ds.acceleration.values, x[keep])
    np.testing.assert_array_equal(ds.window_start.values, np.load(folder / "T.npy")[keep])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Y.npy": np.array(["a"] * 9)}, r"Y.npy: shape \(9,\), expected \(10,\), one per X.npy"),
        ({"pid.npy": np.array(["P001"] * 11)}, r"pid.npy: shape \(11,\), expected \(10,\)"),
        (
            {"X.npy": np.zeros((10, 1000, 3), np.float32)},
            r"X.npy: float32 array of shape \(10, 1000, 3\), expected floats of shape \(windows, 3",
        ),
        ({"X.npy": np.zeros((10, 3000, 3), np.int16)}, r"X.npy: holds int16 values; accepted"),
        ({"T.npy": np.arange(10)}, r"T.npy: holds int64 values; accepted: datetime64$"),
        (
            {"pid.npy": np.array(["P001"] * 9 + [None], dtype=object)},
            r"pid.npy: holds Python objects \(refused: loading them could run code\); "
            r"accepted: strings or byte strings$",
        ),
        ({"Y.npy": np.full(10, np.nan)}, r"Y.npy: holds float64 values; accepted: strings or"),
        ({"X.npy": np.zeros((10, 3000, 3), "U1")}, r"X.npy: holds <U1 values; accepted: floats$"),
    ],
    ids=[
        "Y-length",
        "pid-length",
        "X-shape",
        "X-dtype",
        "T-dtype",
        "pid-objects",
        "Y-nan",
        "X-str",
    ],
)
def test_inconsistent_processed_data_is_named(tmp_path, rng, change, message):
    folder = processed_data(tmp_path, np.zeros((10, 3000, 3), np.float32), ["P001"] * 10, rng)
    for name, array in change.items():
        np.save(folder / name, array)
    with pytest.raises(DataError, match=message):
        npy.window_arrays(folder, "P001", WINDOWS)


def test_missing_processed_data_files_are_listed(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((1, 3000, 3), np.float32))
    with pytest.raises(DataError, match=r"no Y.npy, T.npy, pid.npy"):
        npy.read_processed(tmp_path, WINDOWS)


def test_ten_second_windows(rng):
    n = 10 * 1000 + 400
    ds = windows.make_windows(
        grid(n),
        rng.normal(size=(n, 3)).astype(np.float32),
        np.array(["a"] * n, dtype=object),
        sample_rate=100,
        window_length_s=10,
        window_step_s=10,
        rows_read=n,
        hours_recorded=0.0,
        hours_annotated=0.0,
    )
    assert ds.acceleration.shape == (10, 1000, 3)
    assert ds.attrs["windows_dropped"]["incomplete"] == 1


def test_a_missing_recording_is_named(tmp_path):
    with pytest.raises(DataError, match=rf"^{tmp_path}/P010.csv.gz: cannot be read .*No such file"):
        csvfile.read_recording(tmp_path / "P010.csv.gz")


class Payload:
    """Unpickling this touches a marker file: a data file that runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickled_processed_data_array_runs_nothing(tmp_path, rng):
    folder = processed_data(tmp_path, np.ones((4, 3000, 3), np.float32), ["P001"] * 4, rng)
    marker = tmp_path / "marker"
    crafted = np.array([Payload(marker)] * 4, dtype=object)
    np.save(folder / "pid.npy", crafted)
    assert not marker.exists()
    np.load(folder / "pid.npy", allow_pickle=True)  # what the payload does when unpickled
    assert marker.exists()
    marker.unlink()
    with pytest.raises(DataError, match=r"pid.npy: holds Python objects \(refused"):
        npy.read_processed(folder, WINDOWS)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["pid.npy", "Y.npy", "X.npy"])
def test_a_truncated_processed_data_array_is_named(tmp_path, rng, name):
    folder = processed_data(tmp_path, np.ones((40, 3000, 3), np.float32), ["P001"] * 40, rng)
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) - 100])
    with pytest.raises(DataError, match=rf"^{folder / name}: cannot be read as a .npy array"):
        npy.read_processed(folder, WINDOWS)


def test_infinite_values_in_a_recording_drop_their_windows(tmp_path, rng):
    path = write_recording(
        tmp_path / "P011.csv", "2016-11-13 02:18:00", rng.normal(size=(12000, 3)), ["a"] * 12000
    )
    lines = path.read_text().splitlines()
    for line, value in ((10, "inf"), (3100, "1e309"), (6200, "-inf")):
        time, x, y, z, annotation = lines[line].split(",")
        lines[line] = ",".join([time, x, value, z, annotation])
    path.write_text("\n".join(lines) + "\n")
    build_store(path, tmp_path / "P011.zarr", "P011")
    ds = xr.open_zarr(tmp_path / "P011.zarr")
    assert ds.attrs["windows_dropped"]["infinite"] == 3
    assert ds.sizes["window"] == 1 and np.isfinite(ds.acceleration.values).all()


@pytest.mark.parametrize(
    ("scale", "unit", "message"),
    [
        (
            9.80665,
            "g",
            r"9.807 g is far from gravity's 1 g \(0.3 to 3.0 g expected\); the values look like "
            r"m/s2: set windows.unit: m/s2 to convert them$",
        ),
        (1000, "g", r"1000 g is far .* look like mg: set windows.unit: mg to convert them$"),
        (1, "mg", r"1 mg \(0.001 g\) is far .*look like g: set windows.unit: g"),
    ],
    ids=["m/s2", "mg", "g-declared-mg"],
)
def test_values_far_from_one_g_are_refused_with_the_likely_unit(tmp_path, scale, unit, message):
    still = np.tile([0.0, 0.0, 1.0], (6000, 1)) * scale
    path = write_recording(tmp_path / "P012.csv", "2016-11-13 02:18:00", still, ["a"] * 6000)
    with pytest.raises(DataError, match=rf"^{path}: median acceleration magnitude {message}"):
        build_store(path, tmp_path / "P012.zarr", "P012", unit=unit)


def test_a_declared_unit_is_converted_to_g(tmp_path, rng):
    acceleration = rng.normal(size=(6000, 3)) * 0.1 + [0, 0, 1]
    path = write_recording(
        tmp_path / "P013.csv", "2016-11-13 02:18:00", acceleration * 9.80665, ["a"] * 6000
    )
    build_store(path, tmp_path / "P013.zarr", "P013", unit="m/s2")
    ds = xr.open_zarr(tmp_path / "P013.zarr")
    np.testing.assert_allclose(ds.acceleration.values.reshape(-1, 3), acceleration, rtol=1e-5)
    assert ds.acceleration.attrs["units"] == "g"


def test_a_plain_csv_named_gz_is_named(tmp_path, rng):
    plain = write_recording(
        tmp_path / "P014.csv", "2016-11-13 02:18:00", rng.normal(size=(10, 3)), ["a"] * 10
    )
    path = plain.rename(tmp_path / "P014.csv.gz")
    with pytest.raises(DataError, match=rf"^{path}: is named .gz but is not gzip-compressed"):
        csvfile.read_recording(path)


def test_a_dangling_symlink_is_named(tmp_path):
    path = tmp_path / "P016.csv.gz"
    path.symlink_to(tmp_path / "elsewhere" / "P016.csv.gz")
    with pytest.raises(DataError, match=rf"^{path}: is a broken symbolic link to .*elsewhere"):
        csvfile.read_recording(path)


@pytest.mark.parametrize("rate", [25, 40, 80, 100, 200])
def test_two_whole_windows_resampled_stay_two_windows(rate, rng, tmp_path):
    """Each input sample covers one input step: 60 s at any rate fill two 30 s windows at 100 Hz,
    the last output samples after the last input sample holding its value."""
    n = 60 * rate
    time = START + (np.arange(n) * round(1e9 / rate)).astype("timedelta64[ns]")
    acceleration = rng.normal([0, 0, 1], 0.01, (n, 3)).astype(np.float32)
    annotation = pd.Series(["a"] * n, dtype="category")
    ds = windows.window_recording(
        "r.csv",
        windows.Recording(time, acceleration, annotation),
        dataclasses.replace(WINDOWS, resample=True),
        calibrate="auto",
    )
    np.testing.assert_array_equal(ds.window_start, [START, START + np.timedelta64(30, "s")])
    assert ds.attrs["windows_dropped"]["incomplete"] == 0
    assert ds.attrs["recorded_sample_rate"] == pytest.approx(rate)
    assert ds.attrs["resampled"] == (rate != 100)
    t, out, labels = resampled(tmp_path, time, acceleration, annotation, 100, 1)
    assert len(t) == 6000 and t[-1] == START + np.timedelta64(59_990, "ms")
    assert np.isfinite(out).all() and (labels == "a").all()
