import numpy as np
import pandas as pd
import pytest
import torch

from spectrohar.cache.layout import AXES, spectrogram_dataset
from spectrohar.cache.reader import Spectrograms
from spectrohar.cache.stores import write_dataset
from spectrohar.errors import DataError


def spectrogram_store(path, participants, annotations, x, chunk=16, first=0):
    """A store of spectrograms `x` (window, axis, frequency, frame) in the spectrogram stage's
    layout, windows 30 s apart from the `first`'th after 2016-01-01, each with its annotation."""
    ds = spectrogram_dataset(
        x,
        channels=AXES,
        participant=participants,
        window_start=pd.date_range("2016-01-01", periods=first + len(x), freq="30s")[first:],
        annotation=annotations,
        n_fft=2 * (x.shape[2] - 1),
        hop_length=48,
        window="hann",
        sample_rate=100,
        window_length_s=30,
        dtype=x.dtype.name,
        window_step_s=30,
    )
    write_dataset(ds, path, chunks={"spectrogram": (chunk, *x.shape[1:])})
    return path


def participant_stores(folder, participants, annotations, x, chunk=16) -> list:
    """One store per participant, as the spectrogram rule writes them, of the windows of
    `participants` (one name per window, each participant's windows together), window times
    counted across them."""
    participants, annotations = np.asarray(participants), np.asarray(annotations)
    stores = []
    for name in dict.fromkeys(participants):
        mine = np.flatnonzero(participants == name)
        stores.append(
            spectrogram_store(
                folder / f"{name}.zarr",
                participants[mine],
                annotations[mine],
                x[mine],
                chunk,
                first=mine[0],
            )
        )
    return stores


def as_labels(annotations):
    """The labelling of stores whose annotations are their labels."""
    return np.asarray(annotations, dtype=object)


# 150 windows in three stores: P001 50, P002 60, P101 40 windows, chunks of 16 in each.
SIZES = {"P001": 50, "P002": 60, "P101": 40}


@pytest.fixture
def stores(tmp_path, rng):
    n = sum(SIZES.values())
    participants = np.repeat(list(SIZES), list(SIZES.values()))
    labels = rng.choice(["sleep", "walking", "sit-stand"], n)
    # Each window carries its own number, so batches can be traced back.
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 3, 5, 4))
    return participant_stores(tmp_path, participants, labels, np.ascontiguousarray(x))


def chunk_of(window) -> tuple[str, int]:
    """The (store, chunk) that holds window number `window` of `stores`."""
    first = 0
    for name, size in SIZES.items():
        if window < first + size:
            return name, (window - first) // 16
        first += size
    raise ValueError(window)


def seen(batches):
    return [int(v) for x, _ in batches for v in x[:, 0, 0, 0]]


@pytest.mark.parametrize("memory_budget_mb", [4000, 0])
def test_batches_cover_the_split_once_in_shuffled_chunks(stores, memory_budget_mb):
    windows = Spectrograms(
        stores,
        ["P001", "P002"],
        ["sit-stand", "sleep"],
        as_labels,
        memory_budget_mb=memory_budget_mb,
        buffer_chunks=2,
    )
    assert windows.in_memory == (memory_budget_mb > 0) and len(windows) == 110
    order = seen(windows.batches(8, np.random.default_rng(1)))
    assert sorted(order) == list(range(110))
    assert order != list(range(110))
    assert order == seen(windows.batches(8, np.random.default_rng(1)))  # seeded
    assert order != seen(windows.batches(8, np.random.default_rng(2)))
    # A buffer holds two chunks, each of one store: the first 16 windows come from two only.
    assert len({chunk_of(v) for v in order[:16]}) <= 2
    # Chunks of both stores are shuffled together.
    assert len({chunk_of(v)[0] for v in order[:64]}) == 2
    assert seen(windows.batches(8)) == list(range(110))  # store order without a seed


@pytest.mark.parametrize("buffer_chunks", [1, 2, 8])
@pytest.mark.parametrize("seed", [None, 7])
@pytest.mark.parametrize("threads", [1, 3])
def test_a_seed_gives_the_same_batches_in_memory_and_streamed(stores, seed, buffer_chunks, threads):
    classes = ["sit-stand", "sleep"]
    # Windows 0-49 and 110-149, of two stores, with P002's store between them.
    split = (stores, ["P001", "P101"], classes, as_labels)
    memory = Spectrograms(*split, memory_budget_mb=4000, buffer_chunks=buffer_chunks)
    streamed = Spectrograms(
        *split, memory_budget_mb=0, threads=threads, buffer_chunks=buffer_chunks
    )
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


def test_no_batch_of_one_window(stores):
    windows = Spectrograms(stores, ["P001"], ["sleep"], as_labels, memory_budget_mb=4000)
    sizes = [len(y) for _, y in windows.batches(7, np.random.default_rng(0))]
    assert sum(sizes) == 50 and min(sizes) > 1 and sizes[-1] == 8


@pytest.mark.parametrize("buffer_chunks", [1, 2])
def test_a_streamed_epoch_has_no_batch_of_one_window(tmp_path, buffer_chunks):
    # 33 windows in chunks of 16: the last chunk holds one window, a buffer of its own.
    x = np.broadcast_to(np.arange(33, dtype=np.float32)[:, None, None, None], (33, 3, 5, 4))
    path = spectrogram_store(tmp_path / "s.zarr", ["P001"] * 33, ["sleep"] * 33, x.copy())
    windows = Spectrograms(
        [path], ["P001"], ["sleep"], as_labels, memory_budget_mb=0, buffer_chunks=buffer_chunks
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
    windows = Spectrograms([path], ["P001"], ["sleep"], as_labels, memory_budget_mb=4000)
    assert windows.x.dtype == torch.float32
    np.testing.assert_array_equal(windows.x.numpy(), x.astype(np.float32))


def test_a_split_held_as_float16_gives_float32_batches(stores):
    windows = Spectrograms(stores, ["P001"], ["sleep"], as_labels, memory_budget_mb=4000)
    windows = windows.to(torch.device("cpu"), torch.float16)
    assert windows.x.dtype == torch.float16
    x, _ = next(windows.batches(50))
    assert x.dtype == torch.float32 and torch.equal(x, windows.x.float())


@pytest.mark.parametrize("memory_budget_mb", [4000, 0])
def test_windows_the_labelling_leaves_out_are_not_read(stores, memory_budget_mb):
    def sleep_only(annotations):  # as labels.unknown: drop labels an unknown annotation
        return np.where(np.asarray(annotations) == "sleep", "sleep", None)

    windows = Spectrograms(
        stores, ["P001", "P002"], None, sleep_only, memory_budget_mb=memory_budget_mb
    )
    everything = Spectrograms(stores, ["P001", "P002"], None, as_labels, memory_budget_mb=4000)
    sleep = np.flatnonzero(everything.coords.label.values == "sleep")
    assert windows.classes == ["sleep"] and everything.classes == ["sit-stand", "sleep", "walking"]
    assert sorted(seen(windows.batches(8, np.random.default_rng(0)))) == sleep.tolist()
    assert windows.coords.annotation.values.tolist() == ["sleep"] * len(sleep)
    assert (windows.y == 0).all()


def test_stores_of_other_spectrogram_shapes_are_refused(tmp_path):
    first = spectrogram_store(
        tmp_path / "P001.zarr", ["P001"] * 4, ["sleep"] * 4, np.zeros((4, 3, 5, 4))
    )
    other = spectrogram_store(
        tmp_path / "P002.zarr", ["P002"] * 4, ["sleep"] * 4, np.zeros((4, 3, 5, 6))
    )
    with pytest.raises(DataError, match=r"P002.zarr: spectrograms of shape \(3, 5, 6\), but"):
        Spectrograms([first, other], ["P001", "P002"], None, as_labels, memory_budget_mb=0)
