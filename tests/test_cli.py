import subprocess
import sys

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from spectrohar.cli import main
from spectrohar.stores import STRING, write_dataset


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


def test_show_draws_the_window_that_holds_a_time(tmp_path):
    x = np.zeros((4, 2, 61, 61), "f4")
    x[2] = 1  # the only bright window
    ds = xr.Dataset(
        {"spectrogram": (("window", "channel", "frequency", "frame"), x)},
        coords={
            "channel": np.asarray(["x", "norm"], dtype=STRING),
            "frequency": np.linspace(0, 50, 61),
            "frame": np.linspace(0.6, 29.4, 61),
            "participant": ("window", np.asarray(["P001", "P001", "P002", "P002"], dtype=STRING)),
            "label": ("window", np.asarray(["sleep"] * 4, dtype=STRING)),
            "window_start": ("window", pd.date_range("2016-01-01", periods=4, freq="30s")),
        },
        attrs={"window_length_s": 30},
    )
    write_dataset(ds, tmp_path / "s.zarr", chunks={"spectrogram": (2, 2, 61, 61)})
    out = tmp_path / "w.png"
    main(
        [
            "show",
            str(tmp_path / "s.zarr"),
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
    main(["show", str(tmp_path / "s.zarr"), "--window", "2", "--output", str(by_index)])
    assert by_index.read_bytes() == out.read_bytes()
    with pytest.raises(SystemExit):
        main(["show", str(tmp_path / "s.zarr"), "--participant", "P002", "--time", "2017-01-01"])
