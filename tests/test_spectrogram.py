import dataclasses
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.signal
import torch
import xarray as xr
from conftest import window_store

from spectrohar import open_spectrograms
from spectrohar.cache import spectrogram
from spectrohar.cache.layout import AXES
from spectrohar.settings import Spectrogram

SETTINGS = {"n_fft": 120, "hop_length": 48, "window": "hann"}
STAGE = {"channels": ["x", "y", "z"], "chunk_windows": 8, "dtype": "float32", **SETTINGS}


def stage(**changes):
    """The spectrogram section that `spectrogram.build` takes, with `changes`."""
    return {"spectrogram": Spectrogram(**{**STAGE, **changes})}


def test_log_stft_is_scipy_stft(rng):
    x = rng.normal(size=(4, 3, 3000)).astype(np.float32)
    _, _, z = scipy.signal.stft(
        x, nperseg=120, noverlap=72, window="hann", boundary=None, padded=False
    )
    result = spectrogram.log_stft(x, **SETTINGS)
    assert result.shape == (4, 3, 61, 61) == z.shape
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, np.log(np.abs(z) + 1e-16), rtol=1e-5, atol=1e-5)


def test_float32_magnitudes_are_close_to_float64_scipy_on_gravity_plus_motion(rng):
    # Wrist data: 1 g of gravity plus small motion, where float32 rounding shows first.
    x = (1 + 0.01 * rng.normal(size=(4, 3000))).astype(np.float32)
    _, _, z = scipy.signal.stft(
        x.astype(np.float64), nperseg=120, noverlap=72, window="hann", boundary=None, padded=False
    )
    magnitude = np.exp(spectrogram.log_stft(x, **SETTINGS))
    np.testing.assert_allclose(magnitude, np.abs(z), rtol=1e-4, atol=1e-7)


def test_log_stft_matches_the_notebooks_torch_stft_up_to_its_constant_scale(rng):
    x = rng.normal(size=(5, 3000)).astype(np.float32)
    window = torch.hann_window(120)
    z = torch.stft(
        torch.from_numpy(x),
        n_fft=120,
        hop_length=48,
        window=window,
        center=False,
        return_complex=True,
    )
    notebook = torch.log(z.abs() + 1e-16).numpy()
    ours = spectrogram.log_stft(x, **SETTINGS)
    # scipy divides by sum(window); torch.hann_window is periodic, scipy's 'hann' too.
    np.testing.assert_allclose(notebook - ours, np.log(window.sum().item()), atol=1e-3)


@pytest.mark.parametrize("axes", [AXES, ("z", "x", "y")])
def test_channels_are_picked_by_axis_name_and_norm_is_the_magnitude(rng, axes):
    acceleration = rng.normal(size=(2, 3000, 3))
    signals = spectrogram.channel_signals(acceleration, axes, ["z", "norm", "x"])
    np.testing.assert_array_equal(signals[:, 0], acceleration[..., axes.index("z")])
    np.testing.assert_allclose(signals[:, 1], np.sqrt((acceleration**2).sum(axis=-1)))
    np.testing.assert_array_equal(signals[:, 2], acceleration[..., axes.index("x")])


def test_build_writes_every_window_with_named_coordinates(tmp_path, rng):
    sleep, office = (
        "7030 sleeping;MET 0.95",
        ("occupation;office and administrative support;11580 office/computer work general;MET 1.5"),
    )
    parts = [
        window_store(tmp_path / "P001.zarr", "P001", [sleep] * 23 + [office] * 10, rng=rng),
        window_store(tmp_path / "P002.zarr", "P002", [office] * 17, rng=rng),
    ]
    out = tmp_path / "spectrograms"
    for participant in ("P001", "P002"):
        spectrogram.build(
            tmp_path / f"{participant}.zarr",
            out / f"{participant}.zarr",
            threads=2,
            **stage(channels=["x", "y", "z", "norm"]),
        )
    assert xr.open_zarr(out / "P002.zarr").sizes["window"] == 17
    ds = open_spectrograms(out)
    assert ds.spectrogram.dims == ("window", "channel", "frequency", "frame")
    assert ds.spectrogram.shape == (50, 4, 61, 61)
    # Every element written, equal to an in-memory STFT of the same windows.
    acceleration = np.concatenate([part.acceleration.values for part in parts])
    expected = spectrogram.log_stft(
        spectrogram.channel_signals(acceleration, AXES, ["x", "y", "z", "norm"]), **SETTINGS
    )
    np.testing.assert_array_equal(ds.spectrogram.values, expected)
    assert list(ds.channel.values) == ["x", "y", "z", "norm"]
    assert ds.frequency.attrs["units"] == "Hz"
    assert ds.frequency.values[-1] == pytest.approx(50.0)
    assert ds.frequency.values[1] == pytest.approx(100 / 120)
    assert ds.frame.values[0] == pytest.approx(0.6) and ds.frame.attrs["units"] == "s"
    assert list(ds.participant.values) == ["P001"] * 33 + ["P002"] * 17
    # The raw annotations, every one, and no labels: a relabel rebuilds no store.
    assert list(ds.annotation.values) == [sleep] * 23 + [office] * 27
    assert "label" not in ds.coords and "label_scheme" not in ds.attrs
    assert ds.window_start.dtype == np.dtype("datetime64[ns]")
    assert ds.attrs["n_fft"] == 120 and ds.attrs["hop_length"] == 48
    assert ds.attrs["channels"] == ["x", "y", "z", "norm"]


BUILD = """
import json, sys
from spectrohar import settings
from spectrohar.cache import spectrogram
sections = settings.sections(json.loads(sys.argv[1]))
spectrogram.build(sys.argv[3], sys.argv[2], threads=1, **sections)
"""


def build_in_process(out, windows):
    config = {name: dataclasses.asdict(section) for name, section in stage().items()}
    return subprocess.Popen(
        [sys.executable, "-c", BUILD, json.dumps(config), str(out), str(windows)]
    )


@pytest.mark.slow
def test_a_killed_run_then_a_rerun_gives_the_uninterrupted_store(tmp_path, rng):
    window_store(tmp_path / "P001.zarr", "P001", ["7030 sleeping;MET 0.95"] * 600, rng=rng)
    reference, out = tmp_path / "reference.zarr", tmp_path / "out.zarr"
    paths = tmp_path / "P001.zarr"
    assert build_in_process(reference, paths).wait() == 0
    chunks = reference / "spectrogram" / "c"
    n_chunks = sum(1 for _ in chunks.rglob("*") if _.is_file())

    killed = build_in_process(out, paths)
    written = out / "spectrogram" / "c"
    while killed.poll() is None and not (written.exists() and any(written.rglob("*"))):
        time.sleep(0.01)
    killed.kill()
    killed.wait()
    partial = sum(1 for f in written.rglob("*") if f.is_file()) if written.exists() else 0
    assert partial < n_chunks, "the run finished before it could be killed"

    assert build_in_process(out, paths).wait() == 0
    a, b = xr.open_zarr(reference), xr.open_zarr(out)
    xr.testing.assert_identical(a.load(), b.load())
