"""A week at 100 Hz: `spectrohar predict` on one 7-day recording (60 million samples) as a
CSV.gz and as an Axivity .cwa file, against only reading the file (pyarrow's CSV reader, actfast
for the device file), each in its own process on one core, measured in one run: wall seconds,
the ratios to reading, and peak resident memory, of predicting and of cutting the recording
into windows as predicting does (read in pieces, resampled, calibrated, cut), without a model.

    python benchmarks/week.py --model results/forest/model.skops --hmm results/forest/hmm/hmm.json

The recordings are written once into --folder (a few minutes; kept for the next run). Prints a
table (with --json, one JSON line).
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from spectrohar.sources.writers import write_cwa

RATE = 100
DAY = 24 * 3600 * RATE
READERS = {  # what only reading each format takes, in a fresh process
    ".csv.gz": "import pyarrow.csv, sys; pyarrow.csv.read_csv(sys.argv[1])",
    ".cwa": "import actfast, sys; actfast.read(sys.argv[1])",
}
CUT = """
import sys
from spectrohar.cache.windows import window_pieces
from spectrohar.settings import Windows
from spectrohar.sources.recordings import read_pieces
windows = Windows(length_s=30, step_s=None, sample_rate=100, resample=True, unit="g", max_gap_s=1)
for _ in window_pieces(sys.argv[1], read_pieces(sys.argv[1], None, 1), windows, calibrate="auto"):
    pass
"""


def day(number, rng) -> tuple[np.ndarray, np.ndarray]:
    """Day `number` of the week: wrist-like acceleration, its gravity turning slowly, moving by
    day and still at night, and its times."""
    t = number * 86400 + np.arange(DAY) / RATE
    angle = np.cumsum(rng.normal(0, 0.002, (DAY, 2)), axis=0)
    gravity = np.stack(
        [np.sin(angle[:, 0]), np.cos(angle[:, 0]) * np.sin(angle[:, 1]), np.cos(angle[:, 0])],
        axis=1,
    )
    awake = ((t % 86400) > 7 * 3600)[:, None]
    movement = rng.normal(0, 0.05, (DAY, 3)) + awake * rng.normal(0, 0.2, (DAY, 3))
    start = np.datetime64("2024-03-04T00:00:00", "ns")
    return start + np.round(t * 1e9).astype("timedelta64[ns]"), gravity + movement


def write_week(folder: Path, days) -> dict[str, Path]:
    """The week as CSV.gz (day by day) and .cwa, written unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {suffix: folder / f"week{suffix}" for suffix in READERS}
    if all(path.exists() for path in paths.values()):
        return paths
    rng = np.random.default_rng(0)
    times, accelerations = [], []
    with gzip.open(paths[".csv.gz"], "wb", compresslevel=1) as out:
        for number in range(days):
            time_, acceleration = day(number, rng)
            table = pa.table(
                {"time": time_, **{a: acceleration[:, i].round(4) for i, a in enumerate("xyz")}}
            )
            pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=number == 0))
            times.append(time_)
            accelerations.append(acceleration.astype(np.float32))
    write_cwa(paths[".cwa"], np.concatenate(times), np.concatenate(accelerations))
    return paths


def one_core(command) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of `command` run on one core."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    begin = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - begin
    if status:
        raise SystemExit(f"{command[:3]}... failed with status {status}")
    return wall, usage.ru_maxrss / 1e6  # kB -> GB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model.skops or model.pt")
    parser.add_argument("--hmm", help="its hmm.json, to smooth as the pipeline does")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench/week"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = write_week(args.folder, args.days)
    rows = {}
    for suffix, path in paths.items():
        read_s, _ = one_core([sys.executable, "-c", READERS[suffix], str(path)])
        cut_s, cut_rss = one_core([sys.executable, "-c", CUT, str(path)])
        predict = [sys.executable, "-m", "spectrohar.cli", "predict", str(path)]
        predict += ["--model", args.model, "--output", str(args.folder / f"out{suffix}")]
        predict += ["--hmm", args.hmm] if args.hmm else []
        predict_s, rss = one_core(predict)
        rows[suffix] = {
            "megabytes": path.stat().st_size / 1e6,
            "read_s": read_s,
            "cut_s": cut_s,
            "cut_ratio": cut_s / read_s,
            "cut_peak_rss_gb": cut_rss,
            "predict_s": predict_s,
            "predict_ratio": predict_s / read_s,
            "predict_peak_rss_gb": rss,
        }
    if args.json:
        print(json.dumps({"days": args.days, "rate": RATE, "formats": rows}))
        return
    print(f"{args.days} days at {RATE} Hz, one core, model {args.model}")
    print("format       MB  read s   cut s  cut/read  RSS GB  predict s  predict/read  RSS GB")
    for suffix, row in rows.items():
        print(
            f"{suffix:8} {row['megabytes']:7.0f} {row['read_s']:7.1f} {row['cut_s']:7.1f} "
            f"{row['cut_ratio']:8.2f}x {row['cut_peak_rss_gb']:6.2f} {row['predict_s']:10.1f} "
            f"{row['predict_ratio']:12.2f}x {row['predict_peak_rss_gb']:7.2f}"
        )


if __name__ == "__main__":
    main()
