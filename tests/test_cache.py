import numpy as np
import pandas as pd
import pytest
import torch

from spectrohar.cache import Spectrograms
from spectrohar.layout import AXES, spectrogram_dataset
from spectrohar.stores import write_dataset


def spectrogram_store(path, participants, labels, x, chunk=16):
    """A store of spectrograms `x` (window, axis, frequency, frame) in the spectrogram stage's
    layout, windows 30 s apart, each annotated with its label."""
    ds = spectrogram_dataset(
        x,
        channels=AXES,
        participant=participants,
        window_start=pd.date_range("2016-01-01", periods=len(x), freq="30s"),
        annotation=labels,
        label=labels,
        n_fft=2 * (x.shape[2] - 1),
        hop_length=48,
        window="hann",
        sample_rate=100,
        window_length_s=30,
        label_scheme="Willetts2018",
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


@pytest.mark.parametrize("memory_budget_mb", [4000, 0])
def test_batches_cover_the_split_once_in_shuffled_chunks(store, memory_budget_mb):
    windows = Spectrograms(
        store,
        ["P001", "P002"],
        ["sit-stand", "sleep"],
        memory_budget_mb=memory_budget_mb,
        buffer_chunks=2,
    )
    assert windows.in_memory == (memory_budget_mb > 0) and len(windows) == 110
    order = seen(windows.batches(8, np.random.default_rng(1)))
    assert sorted(order) == list(range(110))
    assert order != list(range(110))
    assert order == seen(windows.batches(8, np.random.default_rng(1)))  # seeded
    assert order != seen(windows.batches(8, np.random.default_rng(2)))
    # A buffer holds two 16-window chunks: the first 32 windows come from two chunks only.
    assert len({v // 16 for v in order[:32]}) <= 2
    assert seen(windows.batches(8)) == list(range(110))  # store order without a seed


@pytest.mark.parametrize("buffer_chunks", [1, 2, 8])
@pytest.mark.parametrize("seed", [None, 7])
def test_a_seed_gives_the_same_batches_in_memory_and_streamed(store, seed, buffer_chunks):
    classes = ["sit-stand", "sleep"]
    # Windows 0-49 and 110-149: chunks 3 and 6 hold windows of the split and others.
    split = (store, ["P001", "P101"], classes)
    memory = Spectrograms(*split, buffer_chunks=buffer_chunks)
    streamed = Spectrograms(*split, memory_budget_mb=0, buffer_chunks=buffer_chunks)
    assert memory.in_memory and not streamed.in_memory
    rngs = [None if seed is None else np.random.default_rng(seed) for _ in range(2)]
    for _ in range(2):  # two epochs: the generators go on alike
        batches = [list(w.batches(8, rng)) for w, rng in zip([memory, streamed], rngs, strict=True)]
        for (xa, ya), (xb, yb) in zip(*batches, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    if seed is not None:
        assert rngs[0].bit_generator.state == rngs[1].bit_generator.state
    assert memory.x.dtype == torch.float32 and memory.x.shape == (90, 3, 5, 4)
    labels = memory.coords.label.values
    assert memory.y.tolist() == [classes.index(v) if v in classes else -1 for v in labels]


def test_no_batch_of_one_window(store):
    windows = Spectrograms(store, ["P001"], ["sleep"])
    sizes = [len(y) for _, y in windows.batches(7, np.random.default_rng(0))]
    assert sum(sizes) == 50 and min(sizes) > 1 and sizes[-1] == 8


@pytest.mark.parametrize("buffer_chunks", [1, 2])
def test_a_streamed_epoch_has_no_batch_of_one_window(tmp_path, buffer_chunks):
    # 33 windows in chunks of 16: the last chunk holds one window, a buffer of its own.
    x = np.broadcast_to(np.arange(33, dtype=np.float32)[:, None, None, None], (33, 3, 5, 4))
    path = spectrogram_store(tmp_path / "s.zarr", ["P001"] * 33, ["sleep"] * 33, x.copy())
    windows = Spectrograms(
        path, ["P001"], ["sleep"], memory_budget_mb=0, buffer_chunks=buffer_chunks
    )
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
    windows = Spectrograms(path, ["P001"], ["sleep"])
    assert windows.x.dtype == torch.float32
    np.testing.assert_array_equal(windows.x.numpy(), x.astype(np.float32))


def test_a_split_held_as_float16_gives_float32_batches(store):
    windows = Spectrograms(store, ["P001"], ["sleep"]).to(torch.device("cpu"), torch.float16)
    assert windows.x.dtype == torch.float16
    x, _ = next(windows.batches(50))
    assert x.dtype == torch.float32 and torch.equal(x, windows.x.float())
