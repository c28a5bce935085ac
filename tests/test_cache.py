import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from spectrohar.cache import Windows
from spectrohar.stores import STRING, write_dataset


def spectrogram_store(path, participants, labels, x, chunk=16):
    """A store in the spectrogram stage's layout."""
    ds = xr.Dataset(
        {"spectrogram": (("window", "channel", "frequency", "frame"), x)},
        coords={
            "participant": ("window", np.asarray(participants, dtype=STRING)),
            "label": ("window", np.asarray(labels, dtype=STRING)),
            "window_start": ("window", pd.date_range("2016-01-01", periods=len(x), freq="30s")),
        },
    )
    write_dataset(ds, path, chunks={"spectrogram": (chunk, *x.shape[1:])})
    return path


@pytest.fixture
def store(tmp_path, rng):
    n = 150
    participants = ["P001"] * 50 + ["P002"] * 60 + ["P101"] * 40
    labels = rng.choice(["sleep", "walking", "sit-stand"], n)
    # Each window carries its own number, so batches can be traced back.
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 3, 5, 4))
    return spectrogram_store(tmp_path / "s.zarr", participants, labels, np.ascontiguousarray(x))


def seen(batches):
    return [int(v) for x, _ in batches for v in x[:, 0, 0, 0]]


def test_streamed_batches_cover_the_split_once_in_shuffled_chunks(store):
    streamed = Windows(
        store, ["P001", "P002"], ["sit-stand", "sleep"], memory_budget_mb=0, buffer_chunks=2
    )
    assert not streamed.in_memory and len(streamed) == 110
    order = seen(streamed.batches(8, np.random.default_rng(1)))
    assert sorted(order) == list(range(110))
    assert order != list(range(110))
    assert order == seen(streamed.batches(8, np.random.default_rng(1)))  # seeded
    assert order != seen(streamed.batches(8, np.random.default_rng(2)))
    # A buffer holds two 16-window chunks: the first 32 windows come from two chunks only.
    assert len({v // 16 for v in order[:32]}) <= 2
    assert seen(streamed.batches(8)) == list(range(110))  # store order without a seed


def test_in_memory_and_streamed_agree(store):
    classes = ["sit-stand", "sleep"]
    memory = Windows(store, ["P002", "P101"], classes)
    streamed = Windows(store, ["P002", "P101"], classes, memory_budget_mb=0)
    assert memory.in_memory and not streamed.in_memory
    for (xa, ya), (xb, yb) in zip(memory.batches(32), streamed.batches(32), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert memory.x.dtype == torch.float32 and memory.x.shape == (100, 3, 5, 4)
    labels = memory.coords.label.values
    expected = [classes.index(v) if v in classes else -1 for v in labels]
    assert memory.y.tolist() == expected


def test_no_batch_of_one_window(store):
    windows = Windows(store, ["P001"], ["sleep"])
    sizes = [len(y) for _, y in windows.batches(7, np.random.default_rng(0))]
    assert sum(sizes) == 50 and min(sizes) > 1 and sizes[-1] == 8


@pytest.mark.parametrize("buffer_chunks", [1, 2])
def test_a_streamed_epoch_has_no_batch_of_one_window(tmp_path, buffer_chunks):
    # 33 windows in chunks of 16: the last chunk holds one window, a buffer of its own.
    x = np.broadcast_to(np.arange(33, dtype=np.float32)[:, None, None, None], (33, 3, 5, 4))
    path = spectrogram_store(tmp_path / "s.zarr", ["P001"] * 33, ["sleep"] * 33, x.copy())
    windows = Windows(path, ["P001"], ["sleep"], memory_budget_mb=0, buffer_chunks=buffer_chunks)
    for seed in [None, *range(6)]:
        rng = None if seed is None else np.random.default_rng(seed)
        batches = list(windows.batches(8, rng))
        assert min(len(y) for _, y in batches) > 1
        assert sorted(seen(batches)) == list(range(33))
    assert seen(windows.batches(8, np.random.default_rng(3))) == seen(
        windows.batches(8, np.random.default_rng(3))
    )


def test_float16_storage_reads_as_float32(tmp_path, rng):
    x = rng.normal(-6, 1, (20, 3, 5, 4)).astype(np.float16)
    path = spectrogram_store(tmp_path / "h.zarr", ["P001"] * 20, ["sleep"] * 20, x)
    windows = Windows(path, ["P001"], ["sleep"])
    assert windows.x.dtype == torch.float32
    np.testing.assert_array_equal(windows.x.numpy(), x.astype(np.float32))


def test_a_split_held_as_float16_gives_float32_batches(store):
    windows = Windows(store, ["P001"], ["sleep"]).to(torch.device("cpu"), torch.float16)
    assert windows.x.dtype == torch.float16
    x, _ = next(windows.batches(50))
    assert x.dtype == torch.float32 and torch.equal(x, windows.x.float())
