import numpy as np
import pytest
import xarray as xr
from conftest import write_recording

from spectrohar import windows
from spectrohar.errors import DataError

START = np.datetime64("2016-11-13T02:18:00", "ns")


def grid(n, step_ms=10):
    return START + (np.arange(n) * step_ms * 1_000_000).astype("timedelta64[ns]")


def cut(time, acceleration, annotation):
    return windows.make_windows(
        time,
        acceleration,
        np.asarray(annotation, dtype=object),
        sample_rate=100,
        window_length_s=30,
    )


def test_windows_follow_the_tutorial_rules(rng):
    # Six 30 s bins: clean 'a'; mostly NA; clean 'b' with one NaN; 'b'/'c' tie; clean 'c'; 500
    # samples only.
    n = 5 * 3000 + 500
    acceleration = rng.normal(size=(n, 3)).astype(np.float32)
    annotation = np.array(
        ["a"] * 3000
        + [None] * 1600
        + ["a"] * 1400
        + ["b"] * 3000
        + ["b"] * 1500
        + ["c"] * 1500
        + ["c"] * 3500,
        dtype=object,
    )
    acceleration[6500, 2] = np.nan
    ds = cut(grid(n), acceleration, annotation)

    assert ds.attrs["windows_dropped"] == {"incomplete": 1, "nan": 1, "unannotated": 1}
    assert ds.attrs["windows_kept"] == 3 and ds.sizes["window"] == 3
    assert list(ds.annotation.values) == ["a", "b", "c"]  # the tie goes to the first in order
    starts = (ds.window_start.values - START) / np.timedelta64(1, "s")
    assert list(starts) == [0, 90, 120]
    np.testing.assert_array_equal(ds.acceleration.values[1], acceleration[9000:12000])
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


def test_na_majority_is_dropped_even_with_labels_present(rng):
    annotation = [None] * 1501 + ["a"] * 1499
    ds = cut(grid(3000), rng.normal(size=(3000, 3)).astype(np.float32), annotation)
    assert ds.sizes["window"] == 0
    assert ds.attrs["windows_dropped"]["unannotated"] == 1


def test_read_recording_parses_a_capture24_file(tmp_path, rng):
    acceleration = rng.normal(size=(500, 3)).astype(np.float32)
    annotation = ["7030 sleeping;MET 0.95"] * 200 + [None] * 100 + ["a, with comma"] * 200
    path = write_recording(
        tmp_path / "P001.csv.gz", "2016-11-13 02:18:00", acceleration, annotation
    )
    time, read, labels = windows.read_recording(path)
    assert time.dtype == np.dtype("datetime64[ns]")
    assert time[1] - time[0] == np.timedelta64(10, "ms")
    np.testing.assert_allclose(read, acceleration, rtol=1e-6)
    assert labels[0] == "7030 sleeping;MET 0.95" and labels[250] is None
    assert labels[-1] == "a, with comma"


def test_build_writes_a_store_xarray_opens(tmp_path, rng):
    n = 3 * 3000
    acceleration = rng.normal(size=(n, 3)).astype(np.float32)
    path = write_recording(
        tmp_path / "P007.csv.gz", "2016-11-13 02:18:00", acceleration, ["a"] * 6000 + [None] * 3000
    )
    windows.build(path, tmp_path / "P007.zarr", "P007", sample_rate=100, window_length_s=30)
    ds = xr.open_zarr(tmp_path / "P007.zarr")
    assert ds.sizes["window"] == 2
    assert list(ds.participant.values) == ["P007", "P007"]
    assert list(ds.axis.values) == ["x", "y", "z"]
    assert ds.attrs["participant"] == "P007"
    assert ds.attrs["windows_dropped"] == {"incomplete": 0, "nan": 0, "unannotated": 1}
    np.testing.assert_allclose(
        ds.acceleration.values.reshape(-1, 3), acceleration[:6000], rtol=1e-6
    )


def test_a_header_only_file_is_a_clear_error(tmp_path):
    path = tmp_path / "P002.csv"
    path.write_text("time,x,y,z,annotation\n")
    with pytest.raises(DataError, match=r"P002.csv: has a header but no rows"):
        windows.build(path, tmp_path / "P002.zarr", "P002", sample_rate=100, window_length_s=30)


def test_a_corrupt_file_names_itself(tmp_path):
    path = tmp_path / "P003.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=r"P003.csv.gz: cannot be read"):
        windows.read_recording(path)
