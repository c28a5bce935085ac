"""Streamed reading of the spectrogram cache: windows/s of whole epochs of batches from a split
larger than the reader's memory budget, its stores' chunks in the page cache.

    python benchmarks/read.py --windows 100000 --folder /tmp/bench/read
    python benchmarks/read.py --stores /tmp/bench/30000/results/spectrograms

reads every window of the stores (made under --folder, N/2000 participants of random log spectra,
if no --stores are given) --epochs times in seeded shuffled batches, after one epoch that fills
the page cache, and prints windows/s per epoch (with --json, one JSON line).
"""

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from spectrohar.cache.layout import AXES, spectrogram_dataset
from spectrohar.cache.reader import Spectrograms
from spectrohar.cache.stores import store_paths, write_dataset

PER_PARTICIPANT = 2000
SHAPE = (3, 61, 61)  # the default STFT's (channel, frequency, frame)


def as_labels(annotations):
    """The labelling of stores whose annotations are their labels."""
    return np.asarray(annotations, dtype=object)


def make_stores(folder: Path, n: int) -> list[Path]:
    """n windows of random log spectra in stores of PER_PARTICIPANT windows, chunked as the
    spectrogram rule chunks them."""
    rng = np.random.default_rng(0)
    paths = []
    for i, start in enumerate(range(0, n, PER_PARTICIPANT)):
        size = min(PER_PARTICIPANT, n - start)
        x = rng.standard_normal((size, *SHAPE), dtype=np.float32) - 6
        participant = f"P{i + 1:03d}"
        ds = spectrogram_dataset(
            x,
            channels=AXES,
            participant=[participant] * size,
            window_start=np.datetime64("2016-01-01", "ns")
            + np.arange(size) * np.timedelta64(30, "s"),
            annotation=rng.choice(["sleep", "sitting", "walking"], size),
            n_fft=120,
            hop_length=48,
            window="hann",
            sample_rate=100,
            window_length_s=30,
        )
        paths.append(folder / f"{participant}.zarr")
        write_dataset(ds, paths[-1], chunks={"spectrogram": (256, *SHAPE)})
    return paths


def streamed_epochs(stores, *, epochs, threads, batch_size=64) -> dict:
    """Windows/s of `epochs` streamed epochs over every window of `stores`, after one untimed."""
    participants = [Path(path).stem for path in stores]  # each store is named after its own
    windows = Spectrograms(
        stores, participants, None, as_labels, memory_budget_mb=64, threads=threads
    )
    assert not windows.in_memory  # the split is larger than the budget
    rng = np.random.default_rng(0)
    rates = []
    for epoch in range(epochs + 1):
        start = time.perf_counter()
        n = sum(len(y) for _, y in windows.batches(batch_size, rng))
        if epoch:  # the first fills the page cache
            rates.append(n / (time.perf_counter() - start))
    return {"windows": len(windows), "threads": threads, "windows_per_s": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=Path, help="a folder of spectrogram stores to read")
    parser.add_argument("--windows", type=int, default=100_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench/read"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    made = args.stores is None
    stores = make_stores(args.folder, args.windows) if made else store_paths(args.stores)
    try:
        result = streamed_epochs(stores, epochs=args.epochs, threads=args.threads)
    finally:
        if made:
            shutil.rmtree(args.folder)
    if args.json:
        print(json.dumps(result))
        return
    rates = ", ".join(f"{rate:.0f}" for rate in result["windows_per_s"])
    print(
        f"streamed read of {result['windows']} windows, {args.threads} threads: "
        f"{rates} windows/s per epoch"
    )


if __name__ == "__main__":
    main()
