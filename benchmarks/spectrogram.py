"""Spectrograms three ways on the same windows, each in its own process: windows/s and peak RSS.

(a) the tutorial's way: torch.stft per batch of 32, as its create_dataloader does;
(b) scipy.signal.stft, in memory;
(c) the pipeline's spectrogram stage, each window store -> its spectrogram store, end to end
    (one after another in one process; the workflow runs them as jobs side by side).

    python benchmarks/spectrogram.py --windows 30000 100000 300000 --folder /tmp/spectrohar-bench

Window stores of N windows (2,000 per participant) are made once per N under --folder from a
synthetic 26 h recording plus per-window sensor noise. (a) and (b) run on the first
--in-memory windows (their rate does not depend on N), (c) on all N. Ratios are to (a), in one run.
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
import zarr

from spectrohar import settings, spectrogram, synthetic
from spectrohar.layout import participant_windows, window_dataset
from spectrohar.settings import Synthetic, Windows
from spectrohar.sources import capture24
from spectrohar.stores import open_store, write_dataset

STFT = {"n_fft": 120, "hop_length": 48, "window": "hann"}
# The pipeline's own defaults, which are these STFT settings.
DEFAULTS = settings.Settings(
    **settings.sections(yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text()))
)
PER_PARTICIPANT = 2000


def make_window_stores(folder: Path, n: int) -> list[Path]:
    """n windows in stores of PER_PARTICIPANT windows, made once and reused."""
    paths = [folder / f"P{i:03d}.zarr" for i in range(1, -(-n // PER_PARTICIPANT) + 1)]
    if all(p.exists() for p in paths):
        return paths
    recording = folder / "P001.csv.gz"
    synthetic.write_recording(recording, "P001", Synthetic(participants=1, hours=26, seed=0))
    base = capture24.read(
        {"recording": recording},
        "P001",
        Windows(length_s=30, sample_rate=100, resample=False, unit="g"),
    )
    pool, annotation = base.acceleration.values, base.annotation.values
    rng = np.random.default_rng(0)
    for i, path in enumerate(paths):
        size = min(PER_PARTICIPANT, n - i * PER_PARTICIPANT)
        pick = rng.integers(0, len(pool), size)
        noisy = pool[pick] + rng.normal(0, 0.01, (size, 3000, 3)).astype(np.float32)
        start = np.datetime64("2016-01-01", "ns") + np.arange(size) * np.timedelta64(30, "s")
        ds = window_dataset(
            noisy,
            start,
            annotation[pick],
            sample_rate=100,
            window_length_s=30,
            rows_read=size * 3000,
            hours_annotated=size / 120,
            windows_dropped={},
        )
        write_dataset(
            participant_windows(ds, path.stem, recording),
            path,
            chunks={"acceleration": (256, 3000, 3)},
        )
    return paths


def notebook(x: np.ndarray) -> None:
    """The tutorial's create_dataloader STFT, batch by batch."""
    import torch

    window = torch.hann_window(STFT["n_fft"])
    for i in range(0, len(x), 32):
        batch = torch.from_numpy(np.transpose(x[i : i + 32], (0, 2, 1)).astype("f4"))
        z = torch.stft(
            batch.reshape(-1, batch.shape[-1]),
            n_fft=120,
            hop_length=48,
            window=window,
            center=False,
            return_complex=False,
        )
        z = z.view(*batch.shape[:2], *z.shape[1:])
        torch.log(torch.norm(z, dim=-1) + 1e-16)


def scipy_stft(x: np.ndarray) -> None:
    import scipy.signal

    for i in range(0, len(x), 1024):
        _, _, z = scipy.signal.stft(
            np.transpose(x[i : i + 1024], (0, 2, 1)),
            window="hann",
            nperseg=120,
            noverlap=72,
            boundary=None,
            padded=False,
        )
        np.log(np.abs(z) + 1e-16)


def run_one(way: str, stores: list[Path], out: Path, in_memory: int, threads: int) -> dict:
    """One way, in this process: windows/s and this process's peak RSS."""
    if way == "pipeline":
        n = sum(open_store(p).sizes["window"] for p in stores)
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        for path in stores:  # one job per participant, as the workflow runs them
            spectrogram.build(
                path, out / path.name, threads=threads, spectrogram=DEFAULTS.spectrogram
            )
    else:
        needed = stores[: -(-in_memory // PER_PARTICIPANT)]
        x = np.concatenate([open_store(p).acceleration.values for p in needed])[:in_memory]
        n = len(x)
        start = time.perf_counter()
        {"notebook": notebook, "scipy": scipy_stft}[way](x)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "way": way,
        "windows": n,
        "seconds": seconds,
        "windows_per_s": n / seconds,
        "peak_rss_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[30_000])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/spectrohar-bench"))
    parser.add_argument("--in-memory", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--way", help=argparse.SUPPRESS)
    parser.add_argument("--stores", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:  # a child: measure one way and print it
        out = args.folder / "spectrograms"
        print(json.dumps(run_one(args.way, args.stores, out, args.in_memory, args.threads)))
        return
    for n in args.windows:
        folder = args.folder / f"windows-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        stores = make_window_stores(folder, n)
        results = {}
        for way in ("notebook", "scipy", "pipeline"):
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--way",
                    way,
                    "--folder",
                    str(folder),
                    "--in-memory",
                    str(args.in_memory),
                    "--threads",
                    str(args.threads),
                    "--stores",
                    *map(str, stores),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results[way] = json.loads(child.stdout.splitlines()[-1])
        base = results["notebook"]["windows_per_s"]
        for way, r in results.items():
            print(
                f"N={n:>7} {way:>9}: {r['windows']:>7} windows in {r['seconds']:7.2f} s = "
                f"{r['windows_per_s']:>8.0f} windows/s ({r['windows_per_s'] / base:5.2f}x the "
                f"notebook), peak RSS {r['peak_rss_mb']:6.0f} MB"
            )
        arrays = [
            zarr.open_group(path, mode="r")["spectrogram"]
            for path in sorted((folder / "spectrograms").glob("*.zarr"))
        ]
        stored, raw = sum(a.nbytes_stored() for a in arrays), sum(a.nbytes for a in arrays)
        print(
            f"N={n:>7} spectrogram arrays: {stored / 2**20:.0f} MiB stored, "
            f"{raw / stored:.2f}x compression"
        )


if __name__ == "__main__":
    main()
