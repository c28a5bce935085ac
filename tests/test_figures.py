"""The run's figures, drawn from a real zarr store."""

import io

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import write_dictionary

from spectrohar.cache.stores import STRING, open_store, write_dataset
from spectrohar.report.figures import DPI, pick_examples, plot_spectrogram_examples

CLASSES = ["light", "mvpa", "sedentary", "sleep"]  # "mvpa" has no window in the store
STORE_LABELS = ["sedentary"] * 20 + ["light"] * 18 + ["sleep"] * 2


def spectrogram_store(path, window_length_s=30):
    """A store in the spectrogram stage's layout, its attrs included, of STORE_LABELS' windows
    in a shuffled order, a class's power louder the more active it is."""
    rng = np.random.default_rng(42)
    n, freqs, frames = len(STORE_LABELS), np.linspace(0, 50, 61), np.linspace(0, 30, 61)
    labels = np.array(STORE_LABELS)[rng.permutation(n)]
    level = np.array([{"sleep": -9, "sedentary": -6, "light": -3}[lab] for lab in labels])
    data = (
        level[:, None, None, None]
        - 0.12 * freqs[None, None, :, None]
        + rng.normal(0, 1, size=(n, 3, freqs.size, frames.size))
    ).astype(np.float32)
    ds = xr.Dataset(
        {"spectrogram": (("window", "channel", "frequency", "frame"), data)},
        coords={
            "channel": np.array(["x", "y", "z"], dtype=STRING),
            "frequency": ("frequency", freqs, {"units": "Hz"}),
            "frame": ("frame", frames, {"units": "s"}),
            "participant": ("window", np.array([f"P00{i % 3 + 1}" for i in range(n)], STRING)),
            "window_start": ("window", pd.date_range("2024-01-01", periods=n, freq="30s")),
            "annotation": ("window", np.array([f"{lab};code" for lab in labels], STRING)),
        },
        attrs={
            "n_fft": 120,
            "hop_length": 50,
            "window": "hann",
            "sample_rate": 100,
            "window_length_s": window_length_s,
            "window_step_s": window_length_s,
        },
    )
    write_dataset(ds, path, chunks={"spectrogram": (8, 3, 61, 61)})
    return path


def store_dictionary(path):
    """The dictionary whose scheme TestScheme labels the store's annotations "<label>;code"."""
    labels = {f"{label};code": label for label in sorted(set(STORE_LABELS))}
    return write_dictionary(path, labels, "TestScheme")


@pytest.fixture
def spectrograms(tmp_path):
    """The store, labelled as the report labels it."""
    ds = open_store(spectrogram_store(tmp_path / "spectrograms.zarr"))
    label = [text.split(";")[0] for text in ds.annotation.values.tolist()]
    return ds.assign_coords(label=("window", label)).assign_attrs(label_scheme="TestScheme")


def png(figure) -> np.ndarray:
    """The figure's pixels, as saved."""
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=DPI)
    buffer.seek(0)
    return matplotlib.image.imread(buffer)


def test_examples_are_seeded(spectrograms):
    first, again, reseeded = (
        png(plot_spectrogram_examples(spectrograms, CLASSES, 3, seed)) for seed in (0, 0, 1)
    )
    np.testing.assert_array_equal(first, again)
    # The title names the seed, so compare only the grid below it.
    assert not np.array_equal(first[80:], reseeded[80:])


def test_pick_examples_per_class():
    labels = np.array(STORE_LABELS)
    picks = pick_examples(labels, CLASSES, 8, seed=0)
    assert list(picks) == CLASSES
    assert [picks[c].size for c in CLASSES] == [8, 0, 8, 2]
    for cls, idx in picks.items():
        assert np.all(labels[idx] == cls)
        assert np.array_equal(idx, np.unique(idx))  # sorted, no repeats
    assert not np.array_equal(picks["sedentary"], pick_examples(labels, CLASSES, 8, 1)["sedentary"])


def test_only_drawn_windows_are_loaded(spectrograms):
    loaded = []

    def record(block, block_info=None):
        if block_info is not None:
            loaded.append(block_info[0]["array-location"][0][0])
        return block

    # One window per chunk, so each computed chunk tells which window was read.
    lazy = spectrograms["spectrogram"].data.rechunk({0: 1})
    spy = lazy.map_blocks(record, meta=np.array((), dtype=np.float32))
    ds = spectrograms.assign(spectrogram=(spectrograms["spectrogram"].dims, spy))
    plot_spectrogram_examples(ds, CLASSES, 3, seed=5)

    picks = pick_examples(ds["label"].values, CLASSES, 3, seed=5)
    assert sorted(set(loaded)) == sorted(np.concatenate(list(picks.values())).tolist())
    assert len(set(loaded)) == 3 + 3 + 2
