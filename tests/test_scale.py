"""benchmarks/scale.py: a Snakemake run's jobs read from its log, and their extrapolation to
Capture-24."""

import importlib.util
from datetime import datetime

import pandas as pd
import pytest
from conftest import REPO

_spec = importlib.util.spec_from_file_location("scale", REPO / "benchmarks" / "scale.py")
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)

LOG = """Job stats:
job            count
-----------  -------
spectrogram        1
train_cnn          1
total              2

Select jobs to execute...
[Thu Dec  3 18:20:00 2026]
localrule spectrogram:
    input: results/windows/P001.zarr
    output: results/spectrograms/P001.zarr
    log: logs/spectrogram/P001.log
    jobid: 3
    benchmark: logs/benchmarks/spectrogram/P001.tsv
    reason: Missing output files: results/spectrograms/P001.zarr
    wildcards: participant=P001
    resources: tmpdir=/tmp, mem_mb=2000, mem=2 GB, mem_mib=1908
Select jobs to execute...
[Thu Dec  3 18:20:04 2026]
Finished jobid: 3 (Rule: spectrogram)
1 of 2 steps (50%) done
[Thu Dec  3 18:20:05 2026]
rule train_cnn:
    input: results/split.csv
    output: results/cnn/model.pt
    jobid: 12
    benchmark: logs/benchmarks/train/cnn.tsv
    threads: 2
    resources: tmpdir=/tmp, mem_mb=8000, mem=8 GB, mem_mib=7630
[Thu Dec  3 18:21:35 2026]
Finished jobid: 12 (Rule: train_cnn)
2 of 2 steps (100%) done
"""


def test_jobs_are_read_from_the_log_with_their_benchmark_threads_and_times():
    jobs = scale.parse_log(LOG)
    assert jobs.rule.tolist() == ["spectrogram", "train_cnn"]
    assert jobs.benchmark.tolist() == [
        "logs/benchmarks/spectrogram/P001.tsv",
        "logs/benchmarks/train/cnn.tsv",
    ]
    assert jobs.threads.tolist() == [1, 2]
    assert jobs.wildcards.tolist() == ["participant=P001", ""]
    assert jobs.start[1] == datetime(2026, 12, 3, 18, 20, 5)
    assert (jobs.end - jobs.start).dt.total_seconds().tolist() == [4, 90]


def jobs_of(*rows):
    """A job table as job_table makes it: (rule, wildcards, threads, s, cpu_time, max_rss)."""
    columns = ["rule", "wildcards", "threads", "s", "cpu_time", "max_rss"]
    jobs = pd.DataFrame(rows, columns=columns)
    start = pd.Timestamp("2026-12-03 18:20")
    return jobs.assign(start=start, end=start + pd.to_timedelta(jobs.s, unit="s"))


def test_per_participant_rules_scale_with_participants_the_others_with_windows():
    jobs = jobs_of(
        ("synthesize_recording", "participant=P001", 1, 50, 50, 300),
        ("spectrogram", "participant=P001", 1, 12, 10, 300),
        ("spectrogram", "participant=P002", 1, 12, 10, 350),
        ("compare", "", 1, 2, 1, 100),
        ("train_cnn", "", 2, 100, 200, 900),
    )
    rules = scale.rule_table(jobs, windows=6000, cores=2)
    assert rules.peak_rss_mb["spectrogram"] == 350 and rules.busy_s["spectrogram"] == 20
    assert rules.windows_per_s["spectrogram"] == pytest.approx(6000 / (24 / 2))
    assert pd.isna(rules.windows_per_s["train_cnn"])
    # A tenth of Capture-24's annotated windows; two CNN epochs of 15 and 25 s, of at most 20.
    annotated = scale.CAPTURE24_ANNOTATED_WINDOWS / 10
    estimate = scale.extrapolate(rules, [15, 25], 2, annotated, 20)
    assert "synthesize_recording" not in estimate.index
    # Each participant's jobs, 151 of them, over the cores.
    spectrogram = estimate.loc["spectrogram"]
    assert spectrogram.capture24_2_cores_s == pytest.approx(20 * 151 / 2 / 2)
    assert spectrogram.capture24_8_cores_s == pytest.approx(20 * 151 / 2 / 8)
    # Busy 100 s, of which 40 s two epochs: 60 s and 20 of the fastest epoch; but for the
    # start-up of a job (the shortest, 1 s) ten times the windows, on 2 threads at 2 cores and
    # on 8 at 8.
    cnn = 1 + (60 + 20 * 15 - 1) * 10
    assert estimate.capture24_2_cores_s["train_cnn"] == pytest.approx(cnn)
    assert estimate.capture24_8_cores_s["train_cnn"] == pytest.approx(1 + (cnn - 1) / 4)
    assert estimate.capture24_8_cores_s["compare"] == pytest.approx(1)
    # From the wall seconds: the epochs' mean; the shortest job 2 s.
    from_wall = scale.extrapolate(rules, [15, 25], 2, annotated, 20, basis="wall")
    assert from_wall.capture24_2_cores_s["train_cnn"] == pytest.approx(2 + (60 + 400 - 2) * 10)
    met = scale.targets(rules, estimate)
    assert met["peak_rss_mb"] == (900, True)
    assert met["spectrogram_windows_per_s"] == (500, False)
