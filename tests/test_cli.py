import subprocess
import sys

import numpy as np
import pandas as pd
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
