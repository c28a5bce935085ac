"""Capture-24 whole: the default pipeline on synthetic participants of Capture-24's size, timed
per rule and extrapolated to the real dataset.

    python benchmarks/scale.py --participants 10 --cores 2

writes the default config.yaml and a scale.yaml (synthetic: --participants of --hours at 100 Hz;
train.max_epochs: --max-epochs, if given) into a fresh --folder, runs `python -m snakemake
--cores C` there on the repository's Snakefile (the default target: every stage, both models),
then reads each job's `benchmark:` file under logs/benchmarks/ and the run's log, and prints per
rule: jobs; wall seconds summed over its jobs and its longest job's; busy seconds (each job's CPU
seconds over its threads: its wall seconds on idle cores, where other processes share these);
CPU seconds; peak RSS (its largest job's); the stage's span (its first job's start to its last
job's end, from the log's whole-second stamps, with other rules' jobs running alongside); and,
for the rules that cut or read the windows participant by participant, windows/s over the
stage: all the run's windows over the jobs' summed wall seconds divided by the cores, the rate
of the stage with the cores to itself.

Then the extrapolation to Capture-24 (151 participants, 3,883 h recorded: 25.7 h each, the
size of --hours 26; 294,659 annotated windows) on 2 and 8 cores, from the busy seconds (and, in
the total, from the wall seconds too):
- A per-participant rule (one with a `participant` wildcard) takes its summed seconds x 151 / N,
  spread over the cores: its jobs are single-threaded and independent.
- Every other rule reads all participants' annotated windows: its seconds scale with them,
  x 294,659 / the run's annotated windows, but for each job's start-up (taken as the run's
  shortest job): an upper bound for the rules that read only tables. A multi-threaded job (at
  most 8 threads, capped at the cores) is taken to speed up in proportion to its threads: an
  optimistic assumption for 8 cores. The CNN's training counts the default train.max_epochs
  epochs (the most early stopping lets it run, however many --max-epochs allowed here) of its
  fastest epoch in history.csv (their mean in the estimate from wall seconds): its OpenMP
  threads slow down several times over while another process shares their cores.
- Stages run one after another: an upper bound, since Snakemake runs independent jobs (the two
  models' trainings, say) side by side. The synthesize rules make the synthetic data and have no
  part in a real run.
Peak RSS is as measured: the per-participant jobs already at Capture-24's size; training holds
its splits in memory only while they fit its share of mem_mb and streams them beyond.

Last, the targets, each met or not: no job's peak RSS above 4,000 MB; the spectrogram stage at
10,000 windows/s or more over the stage; Capture-24 under 2 h on 8 cores (from busy seconds).
The folder is kept: --existing reads its run again. With --json, one JSON line of it all.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml

from spectrohar.settings import DEFAULTS

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
CAPTURE24_PARTICIPANTS = 151
CAPTURE24_ANNOTATED_WINDOWS = 294_659
EXTRAPOLATED_CORES = (2, 8)
MAX_THREADS = 8  # the Snakefile's THREADS: the threads of its multi-threaded rules
WINDOW_RULES = ("windows", "spectrogram", "features")  # the stages over each participant's windows
TARGETS = {"peak_rss_mb": 4000, "spectrogram_windows_per_s": 10_000, "hours_on_8_cores": 2}
# A job's start ("[date]", then "rule name:" and its fields) and its end ("Finished jobid: N").
STAMP = r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]\n"
STARTED = re.compile(STAMP + r"(?:local)?(?:rule|checkpoint) (\w+):\n((?:    .*\n)+)", re.M)
FINISHED = re.compile(STAMP + r"Finished jobid: (\d+) ", re.M)
TIME = "%a %b %d %H:%M:%S %Y"
RUN = "scale-run.json"  # in the work folder: what was run, its seconds and load


def write_config(folder: Path, participants: int, hours: float, max_epochs) -> None:
    """The default config.yaml and scale.yaml over it in `folder`."""
    shutil.copy(REPO / "config.yaml", folder)
    config = {"synthetic": {"participants": participants, "hours": hours}}
    if max_epochs is not None:
        config["train"] = {"max_epochs": max_epochs}
    (folder / "scale.yaml").write_text(yaml.safe_dump(config))


def run_workflow(folder: Path, participants, hours, cores, max_epochs) -> None:
    """`snakemake --cores cores` of the default target on `participants` synthetic participants
    of `hours` in a fresh `folder`, its console in snakemake.txt, and RUN: what was run, its
    seconds and the machine's load average (the machine may be shared)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_config(folder, participants, hours, max_epochs)
    load, start = os.getloadavg()[0], time.perf_counter()
    with open(folder / "snakemake.txt", "w") as console:
        command = [*SNAKEMAKE, "--configfile", "scale.yaml", "--cores", str(cores)]
        result = subprocess.run(command, cwd=folder, stdout=console, stderr=subprocess.STDOUT)
    if result.returncode:
        sys.exit((folder / "snakemake.txt").read_text()[-4000:])
    run = {"participants": participants, "hours": hours, "cores": cores}
    run["seconds"] = round(time.perf_counter() - start, 1)
    run["load_average"] = max(load, os.getloadavg()[0])
    (folder / RUN).write_text(json.dumps(run))


def parse_log(text: str) -> pd.DataFrame:
    """The jobs of a Snakemake log: rule, benchmark file, threads, wildcards, start and end."""
    jobs = {}
    for stamp, rule, fields in STARTED.findall(text):
        field = dict(re.findall(r"^    (\w+): (.*)$", fields, re.M))
        jobs[field["jobid"]] = {
            "rule": rule,
            "benchmark": field.get("benchmark"),
            "threads": int(field.get("threads", 1)),
            "wildcards": field.get("wildcards", ""),
            "start": datetime.strptime(stamp, TIME),
        }
    for stamp, jobid in FINISHED.findall(text):
        jobs[jobid]["end"] = datetime.strptime(stamp, TIME)
    return pd.DataFrame(jobs.values())


def job_table(folder: Path) -> pd.DataFrame:
    """Every job of the run in `folder`, with its benchmark record (s, cpu_time, max_rss in MB,
    ...); a job without one is refused."""
    log = max((folder / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs = parse_log(log.read_text())
    jobs = jobs[jobs.rule != "all"].reset_index(drop=True)
    if jobs.benchmark.isna().any():
        sys.exit(f"rules without a benchmark file: {sorted(set(jobs.rule[jobs.benchmark.isna()]))}")
    records = pd.concat([pd.read_csv(folder / path, sep="\t") for path in jobs.benchmark])
    return pd.concat([jobs, records.reset_index(drop=True)], axis=1)


def rule_table(jobs: pd.DataFrame, windows: int, cores: int) -> pd.DataFrame:
    """Per rule: jobs; wall, busy and CPU seconds; its longest job's and its shortest job's;
    peak RSS; threads; whether it runs per participant; the stage's span; and windows/s over
    the stage (`windows` over the summed wall seconds / `cores`) for WINDOW_RULES."""
    jobs = jobs.assign(busy=(jobs.cpu_time / jobs.threads).clip(upper=jobs.s))
    rules = jobs.groupby("rule", sort=False).agg(
        jobs=("s", "size"),
        wall_s=("s", "sum"),
        longest_s=("s", "max"),
        busy_s=("busy", "sum"),
        cpu_s=("cpu_time", "sum"),
        peak_rss_mb=("max_rss", "max"),
        span_s=("end", "max"),
        first_start=("start", "min"),
        shortest_wall_s=("s", "min"),
        shortest_busy_s=("busy", "min"),
        threads=("threads", "max"),
        per_participant=("wildcards", lambda w: w.str.contains("participant=").all()),
    )
    rules["span_s"] = (rules.span_s - rules.pop("first_start")).dt.total_seconds()
    rules["windows_per_s"] = (windows / (rules.wall_s / cores)).where(
        rules.index.isin(WINDOW_RULES)
    )
    return rules


def extrapolate(rules, epoch_s, participants, annotated, max_epochs, basis="busy") -> pd.DataFrame:
    """Each rule's seconds on Capture-24 on each of EXTRAPOLATED_CORES (the model above) from
    its `basis` seconds (busy or wall); `epoch_s` are the CNN's epochs' seconds."""
    real = rules.loc[~rules.index.str.startswith("synthesize")]
    seconds = real[f"{basis}_s"].copy()
    if "train_cnn" in real.index:  # the job but its epochs, then max_epochs epochs
        wall = real.wall_s["train_cnn"]
        epoch = min(epoch_s) if basis == "busy" else sum(epoch_s) / len(epoch_s)
        seconds["train_cnn"] *= (wall - sum(epoch_s)) / wall
        seconds["train_cnn"] += max_epochs * epoch
    startup = real.jobs * real[f"shortest_{basis}_s"].min()
    by_participants = CAPTURE24_PARTICIPANTS / participants
    by_windows = CAPTURE24_ANNOTATED_WINDOWS / annotated
    table = pd.DataFrame(index=real.index)
    for cores in EXTRAPOLATED_CORES:
        # A multi-threaded job runs min(MAX_THREADS, cores) threads there; the others one.
        speedup = real.threads.where(real.threads == 1, min(MAX_THREADS, cores)) / real.threads
        table[f"capture24_{cores}_cores_s"] = (seconds * by_participants / cores).where(
            real.per_participant, startup + (seconds - startup) * by_windows / speedup
        )
    return table


def targets(rules, estimate) -> dict[str, tuple[float, bool]]:
    """Each of TARGETS' measured or extrapolated value and whether it is met."""
    values = {
        "peak_rss_mb": rules.peak_rss_mb.max(),
        "spectrogram_windows_per_s": rules.windows_per_s.get("spectrogram", float("nan")),
        "hours_on_8_cores": estimate.capture24_8_cores_s.sum() / 3600,
    }
    met = {
        "peak_rss_mb": values["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
        "spectrogram_windows_per_s": values["spectrogram_windows_per_s"]
        >= TARGETS["spectrogram_windows_per_s"],
        "hours_on_8_cores": values["hours_on_8_cores"] < TARGETS["hours_on_8_cores"],
    }
    return {name: (round(float(values[name]), 2), bool(met[name])) for name in TARGETS}


def machine() -> str:
    """This machine's cores and memory."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.1f} GiB"


def summary(folder: Path) -> tuple[dict, pd.DataFrame]:
    """The run in `folder`: its figures, targets and extrapolated hours, and its rule table."""
    run = json.loads((folder / RUN).read_text())
    qc = pd.read_csv(folder / "results" / "qc.csv", keep_default_na=False)
    windows = int(qc.windows_kept.sum())
    annotated = windows - int(qc.unannotated.sum())
    rules = rule_table(job_table(folder), windows, run["cores"])
    epoch_s = pd.read_csv(folder / "results" / "cnn" / "history.csv").seconds.tolist()
    scale = (run["participants"], annotated, DEFAULTS["train"]["max_epochs"])
    estimate = extrapolate(rules, epoch_s, *scale)
    hours = {
        basis: {
            cores: round(seconds / 3600, 2)
            for cores, seconds in zip(EXTRAPOLATED_CORES, table.sum(), strict=True)
        }
        for basis, table in (
            ("busy", estimate),
            ("wall", extrapolate(rules, epoch_s, *scale, "wall")),
        )
    }
    run.update(
        machine=machine(),
        windows=windows,
        annotated_windows=annotated,
        cnn_epoch_s=[round(s, 1) for s in epoch_s],
        capture24_hours=hours,
        targets=targets(rules, estimate),
    )
    hidden = ["threads", "per_participant", "shortest_wall_s", "shortest_busy_s"]
    return run, rules.drop(columns=hidden).join(estimate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10, help="at least 5 (the split)")
    parser.add_argument("--hours", type=float, default=26)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, help="shorten the CNN's training")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/spectrohar-scale"))
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument(
        "--existing", action="store_true", help="read the run in --folder rather than make one"
    )
    args = parser.parse_args()
    if not args.existing:
        run_workflow(args.folder, args.participants, args.hours, args.cores, args.max_epochs)
    run, table = summary(args.folder)
    if args.json:
        print(json.dumps({**run, "rules": table.round(2).reset_index().to_dict("records")}))
        return
    epochs = run["cnn_epoch_s"]
    print(
        f"{run['machine']}, load average up to {run['load_average']:.1f}: "
        f"{run['participants']} synthetic participants of {run['hours']:g} h, snakemake --cores "
        f"{run['cores']}: {run['seconds']:.0f} s; {run['windows']:,} windows "
        f"({run['annotated_windows']:,} annotated); CNN epochs {min(epochs):.0f}-"
        f"{max(epochs):.0f} s ({len(epochs)})"
    )
    print(table.to_string(float_format=lambda v: f"{v:,.1f}"))
    for cores in EXTRAPOLATED_CORES:
        busy, wall = (run["capture24_hours"][basis][cores] for basis in ("busy", "wall"))
        print(f"Capture-24 on {cores} cores: {busy:.2f} h ({wall:.2f} h from the wall seconds)")
    for name, (value, met) in run["targets"].items():
        print(f"target {name}: {value:,.2f} ({'met' if met else 'not met'})")


if __name__ == "__main__":
    main()
