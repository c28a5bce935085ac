import subprocess
import sys

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from test_cache import participant_stores

from spectrohar.cache.stores import STRING, write_dataset
from spectrohar.cli import main


def test_inspect_prints_what_a_store_holds(tmp_path, capsys):
    labels = np.asarray(["sleep"] * 5 + ["walking"] * 3, dtype=STRING)
    ds = xr.Dataset(
        {
            "spectrogram": (
                ("window", "channel", "frequency", "frame"),
                np.ones((8, 3, 61, 61), "f4"),
            )
        },
        coords={
            "label": ("window", labels),
            "window_start": ("window", pd.date_range("2016-01-01", periods=8, freq="30s")),
        },
        attrs={"n_fft": 120},
    )
    write_dataset(ds, tmp_path / "s.zarr", chunks={"spectrogram": (4, 3, 61, 61)})
    main(["inspect", str(tmp_path / "s.zarr")])
    out = capsys.readouterr().out
    assert "spectrogram (window, channel, frequency, frame) shape=(8, 3, 61, 61)" in out
    assert "dtype=float32 chunks=(4, 3, 61, 61)" in out
    assert f"raw={8 * 3 * 61 * 61 * 4 / 1024:.1f} KiB" in out
    assert "n_fft: 120" in out
    assert "windows per label:\n         5  sleep\n         3  walking\n" in out


def test_inspect_of_a_missing_store_is_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "spectrohar.cli", "inspect", "nowhere.zarr"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith("nowhere.zarr: no such store")


def two_participants(folder):
    """A folder of two participants' spectrogram stores, the third window the only bright one."""
    x = np.zeros((4, 3, 61, 61), "f4")
    x[2] = 1
    participants = ["P001", "P001", "P002", "P002"]
    participant_stores(folder, participants, ["7030 sleeping;MET 0.95"] * 4, x, chunk=2)
    return folder


def test_show_draws_the_window_that_holds_a_time(tmp_path):
    folder = two_participants(tmp_path / "spectrograms")
    out = tmp_path / "w.png"
    main(
        [
            "show",
            str(folder),
            "--participant",
            "P002",
            "--time",
            "2016-01-01 00:01:10",
            "--output",
            str(out),
        ]
    )
    image = matplotlib.image.imread(out)
    assert image.shape[1] > image.shape[0] > 200
    by_index = tmp_path / "i.png"
    main(["show", str(folder), "--window", "2", "--output", str(by_index)])
    assert by_index.read_bytes() == out.read_bytes()
    with pytest.raises(SystemExit):
        main(["show", str(folder), "--participant", "P002", "--time", "2017-01-01"])


def test_inspect_of_a_folder_opens_its_stores_as_one(tmp_path, capsys):
    folder = two_participants(tmp_path / "spectrograms")
    main(["inspect", str(folder)])
    out = capsys.readouterr().out
    assert out.startswith(f"{folder}: 2 stores, 4 windows, stored ")
    assert "spectrogram   (window, channel, frequency, frame) float32" in out
    assert "windows per participant:\n         2  P001\n         2  P002\n" in out
    assert "windows per annotation:\n         4  7030 sleeping;MET 0.95" in out


@pytest.mark.parametrize("time", ["", "half past ten"])
def test_show_names_a_time_it_cannot_read(tmp_path, capsys, time):
    folder = two_participants(tmp_path / "spectrograms")
    with pytest.raises(SystemExit):
        main(["show", str(folder), "--participant", "P002", "--time", time])
    assert f"--time {time!r}: not a time like 2016-11-13 10:30" in capsys.readouterr().err
