"""Reading a recording in each format the pipeline takes: seconds per recorded hour of
sources.recordings.read_file (the reader, device block timing included) for .cwa, .cwa.gz,
.gt3x, .bin and .bin.gz files against the same samples as Capture-24's CSV.gz, measured in one
run, each format read --repeats times (median), and the time to window and calibrate them.

    python benchmarks/recordings.py --hours 6 --folder /tmp/bench/recordings

prints a table (with --json, one JSON line).
"""

import argparse
import gzip
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from spectrohar.cache.windows import window_recording
from spectrohar.settings import Windows
from spectrohar.sources.recordings import read_file
from spectrohar.sources.writers import write_bin, write_cwa, write_gt3x

RATE = 100
WINDOWS = Windows(length_s=30, step_s=None, sample_rate=RATE, resample=True, unit="g", max_gap_s=1)


def recording(hours, seed=0):
    """`hours` of wrist-like acceleration at RATE Hz: gravity turning slowly, movement, noise."""
    rng = np.random.default_rng(seed)
    n = round(hours * 3600 * RATE)
    start = np.datetime64("2024-03-01T10:00:00", "ns")
    time_ = start + np.arange(n) * np.timedelta64(10_000_000, "ns")
    angle = np.cumsum(rng.normal(0, 0.002, (n, 2)), axis=0)
    gravity = np.stack(
        [np.sin(angle[:, 0]), np.cos(angle[:, 0]) * np.sin(angle[:, 1]), np.cos(angle[:, 0])],
        axis=1,
    )
    return time_, gravity + rng.normal(0, 0.05, (n, 3))


def write_all(folder, time_, acceleration) -> dict[str, Path]:
    """The recording in every format, by suffix."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {suffix: folder / f"r{suffix}" for suffix in (".csv.gz", ".cwa", ".gt3x", ".bin")}
    table = pa.table(
        {"time": time_, **{axis: acceleration[:, i].round(4) for i, axis in enumerate("xyz")}}
    )
    with gzip.open(paths[".csv.gz"], "wb", compresslevel=1) as out:
        pacsv.write_csv(table, out)
    temperature = np.full(len(time_), 25.0)
    write_cwa(paths[".cwa"], time_, acceleration, temperature=temperature)
    write_gt3x(paths[".gt3x"], time_, acceleration)
    write_bin(paths[".bin"], time_, acceleration, temperature=temperature)
    for suffix in (".cwa", ".bin"):
        paths[f"{suffix}.gz"] = folder / f"r{suffix}.gz"
        with open(paths[suffix], "rb") as source, gzip.open(paths[f"{suffix}.gz"], "wb") as out:
            shutil.copyfileobj(source, out)
    return paths


def timed(function, repeats) -> tuple[float, object]:
    """The median seconds of `repeats` calls of `function`, and its last result."""
    seconds = []
    for _ in range(repeats):
        begin = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - begin)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench/recordings"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = write_all(args.folder, *recording(args.hours))
    rows = {}
    for suffix, path in paths.items():
        read_s, read = timed(lambda path=path: read_file(path, None, 1.0), args.repeats)
        window_s, _ = timed(
            lambda path=path, read=read: window_recording(path, read, WINDOWS, calibrate="on"), 1
        )
        rows[suffix] = {
            "megabytes": path.stat().st_size / 1e6,
            "read_s_per_hour": read_s / args.hours,
            "windows_s_per_hour": window_s / args.hours,
        }
    csv = rows[".csv.gz"]["read_s_per_hour"]
    for row in rows.values():
        row["read_vs_csv_gz"] = row["read_s_per_hour"] / csv
    if args.json:
        print(json.dumps({"hours": args.hours, "formats": rows}))
        return
    print(f"{args.hours:g} h at {RATE} Hz, median of {args.repeats} reads")
    print("format      MB   read s/h   vs csv.gz   window+calibrate s/h")
    for suffix, row in rows.items():
        print(
            f"{suffix:8} {row['megabytes']:6.1f} {row['read_s_per_hour']:9.3f} "
            f"{row['read_vs_csv_gz']:10.2f}x {row['windows_s_per_hour']:12.3f}"
        )


if __name__ == "__main__":
    main()
