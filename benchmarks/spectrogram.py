"""The spectrogram stage as the workflow runs it, against the tutorial's STFT, in one run.

    python benchmarks/spectrogram.py --windows 30000 100000 300000 --repeats 3

For each N: a processed_data folder (the npy source) of N random-walk windows in N/2000
participants, windows 30 s apart within one, under --folder/N; Snakemake builds their window
stores (untimed), then `snakemake --cores 2 <the spectrogram stores>` is timed end to end and each
job's max_rss read from its `benchmark:` file. In the same repeat, in a process of its own, the
tutorial's torch.stft on in-memory windows (its rate does not depend on N), and a streamed read
of the new stores (benchmarks/read.py). Prints windows/s, per-job peak RSS and the ratios,
including a 20-epoch run's STFT cost: the tutorial recomputes it every epoch, the pipeline builds
the cache once and reads it 20 times. --folder/N is deleted after its N unless --keep; a kept
one is used again.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from spectrohar.sources.labels import PACKAGED_DICTIONARY, read_dictionary

REPO = Path(__file__).parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
PER_PARTICIPANT = 2000
SAMPLES = 3000  # 30 s at 100 Hz
EPOCHS = 20
NOTEBOOK_WINDOWS = 20_000


def processed_data(folder: Path, n: int) -> list[str]:
    """X.npy, Y.npy, T.npy, pid.npy and the annotation-label dictionary of n random-walk windows
    around gravity, PER_PARTICIPANT per participant; the participants' ids."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(folder / "X.npy", "w+", np.float32, (n, SAMPLES, 3))
    ids, pid, start = [], [], []
    for i, first in enumerate(range(0, n, PER_PARTICIPANT)):
        size = min(PER_PARTICIPANT, n - first)
        steps = rng.standard_normal((size, SAMPLES, 3), dtype=np.float32) * np.float32(0.002)
        x[first : first + size] = np.cumsum(steps, axis=1) + np.float32([0, 0, 1])
        ids.append(f"P{i + 1:03d}")
        pid += [ids[-1]] * size
        start.append(np.arange(size) * np.timedelta64(30, "s"))
    x.flush()
    shutil.copy(PACKAGED_DICTIONARY, folder / "annotation-label-dictionary.csv")
    np.save(folder / "Y.npy", rng.choice(read_dictionary().index.to_numpy(str), n))
    np.save(folder / "T.npy", np.datetime64("2016-01-01", "ns") + np.concatenate(start))
    np.save(folder / "pid.npy", np.asarray(pid))
    return ids


def workflow_folder(folder: Path, n: int) -> list[str]:
    """A workflow folder on processed_data of n windows (made unless kept from a run before),
    its window stores built; the spectrogram stores to time."""
    source = folder / "processed_data"
    ids = np.unique(np.load(source / "pid.npy")).tolist() if source.exists() else None
    ids = ids or processed_data(source, n)
    shutil.copy(REPO / "config.yaml", folder)
    config = {
        "source": {"kind": "npy", "path": "processed_data", "participants": [], "on_error": "stop"},
        "split": {"test": ids[-1:]},
    }
    (folder / "bench.yaml").write_text(yaml.safe_dump(config))
    snakemake(folder, *(f"results/windows/{p}.zarr" for p in ids))
    return [f"results/spectrograms/{p}.zarr" for p in ids]


def snakemake(folder: Path, *targets) -> float:
    """Seconds of `snakemake --cores 2 targets` in `folder`."""
    start = time.perf_counter()
    result = subprocess.run(
        [*SNAKEMAKE, "--configfile", "bench.yaml", "--cores", "2", *targets],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.exit(result.stderr[-4000:])
    return time.perf_counter() - start


def pipeline(folder: Path, targets: list[str]) -> dict:
    """The spectrogram jobs, timed from scratch: seconds, and each job's benchmark record."""
    for made in ("results/spectrograms", "logs/benchmarks/spectrogram"):
        shutil.rmtree(folder / made, ignore_errors=True)
    seconds = snakemake(folder, *targets)
    jobs = pd.concat(
        pd.read_csv(path, sep="\t") for path in (folder / "logs/benchmarks/spectrogram").iterdir()
    )
    return {"seconds": seconds, "max_rss_mb": jobs.max_rss.tolist(), "job_s": jobs.s.tolist()}


def notebook(x: np.ndarray) -> float:
    """Windows/s of the tutorial's create_dataloader STFT, batch by batch, in memory."""
    import torch

    window = torch.hann_window(120)
    start = time.perf_counter()
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
    return len(x) / (time.perf_counter() - start)


def child(*args) -> dict:
    """The last JSON line of a Python child process."""
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True)
    if result.returncode:
        sys.exit(result.stderr[-4000:])
    return json.loads(result.stdout.splitlines()[-1])


def spread(values, unit="") -> str:
    """Median and range of repeated measurements."""
    low, high = min(values), max(values)
    return f"{statistics.median(values):,.0f}{unit} ({low:,.0f}-{high:,.0f})"


def bench(folder: Path, n: int, repeats: int) -> None:
    """Every measurement of one N, `repeats` times, and its summary."""
    targets = workflow_folder(folder, n)
    runs = []
    for _ in range(repeats):
        load = os.getloadavg()[0]  # the machine is shared: how busy it was, for the spread
        run = {"load": load, **pipeline(folder, targets)}
        run["notebook"] = child(__file__, "--notebook", folder / "processed_data/X.npy")
        run["read"] = child(
            REPO / "benchmarks/read.py",
            "--json",
            "--epochs",
            1,
            "--stores",
            folder / "results/spectrograms",
        )
        runs.append(run)
        print(json.dumps({"N": n, **run}), file=sys.stderr)
    rate = [n / r["seconds"] for r in runs]
    notebook_rate = [r["notebook"] for r in runs]
    read_rate = [r["read"]["windows_per_s"][0] for r in runs]
    # 20 epochs: the tutorial's STFT every epoch against one build and 20 reads of the cache.
    epochs = [
        EPOCHS * n / r["notebook"] / (r["seconds"] + EPOCHS * n / r["read"]["windows_per_s"][0])
        for r in runs
    ]
    rss = [max(r["max_rss_mb"]) for r in runs]
    ratio = [p / b for p, b in zip(rate, notebook_rate, strict=True)]
    print(
        f"N={n:>7} ({len(targets)} jobs, {repeats} runs, median (range)): "
        f"pipeline {spread(rate)} windows/s; per-job max RSS {spread(rss, ' MB')}; "
        f"notebook {spread(notebook_rate)} windows/s; ratio {statistics.median(ratio):.1f}x "
        f"({min(ratio):.1f}-{max(ratio):.1f}); streamed read {spread(read_rate)} windows/s; "
        f"{EPOCHS}-epoch STFT cost, notebook / cache: {statistics.median(epochs):.1f}x "
        f"({min(epochs):.1f}-{max(epochs):.1f}); load average {spread([r['load'] for r in runs])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[30_000])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep --folder/N after its N")
    parser.add_argument("--notebook", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.notebook:  # a child: the tutorial's STFT on the first windows of this X.npy
        x = np.load(args.notebook, mmap_mode="r")[:NOTEBOOK_WINDOWS]
        print(json.dumps(notebook(np.ascontiguousarray(x))))
        return
    for n in args.windows:
        folder = args.folder / str(n)
        try:
            bench(folder, n, args.repeats)
        finally:
            if not args.keep:
                shutil.rmtree(folder)


if __name__ == "__main__":
    main()
