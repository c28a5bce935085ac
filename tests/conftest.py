import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from spectrohar.cache.layout import participant_windows, window_dataset
from spectrohar.cache.stores import write_dataset

# One thread per pytest-xdist worker for torch and BLAS (each of CI's two cores runs a worker):
# two workers of two spinning OpenMP threads each ran the network tests 3-4 times slower. Set
# before torch is imported; a job that asks for threads (train.threads) still gets them.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# The workflow, run by Snakemake in a folder of its own with config.yaml and small.yaml.
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
# Small models on a small synthetic dataset, merged over config.yaml.
SMALL = {
    "synthetic": {"participants": 8, "hours": 1, "seed": 3},
    "cnn": {"width": 8},
    "forest": {"n_estimators": 30},
    "compare": {"resamples": 200},
    "train": {"max_epochs": 6, "patience": 3, "batch_size": 32, "learning_rate": 0.001},
    "split": {"validation_fraction": 0.25},
    "report": {"examples_per_class": 3},
}


def snakemake(folder, *args, configfiles=("small.yaml",)):
    """Snakemake on the workflow in `folder` with `configfiles` over its config.yaml."""
    return subprocess.run(
        [*SNAKEMAKE, "--configfile", *configfiles, *args],
        cwd=folder,
        capture_output=True,
        text=True,
    )


def workflow_folder(folder, **config):
    """`folder` with config.yaml and small.yaml, SMALL with the sections of `config` over it."""
    shutil.copy(REPO / "config.yaml", folder)
    (folder / "small.yaml").write_text(yaml.safe_dump({**SMALL, **config}))
    return folder


def window_store(
    path, participant, annotations, acceleration=None, *, rng=None, length_s=30, step_s=None
):
    """A window store in the windows stage's layout of `participant`'s windows, each with its
    annotation, `step_s` (None: `length_s`) apart from 2016-01-01: `acceleration` (window,
    sample, axis), or 30 s of noise at 100 Hz drawn from `rng`; the dataset written."""
    step_s = length_s if step_s is None else step_s
    n = len(annotations)
    if acceleration is None:
        acceleration = rng.normal(size=(n, 3000, 3)).astype(np.float32)
    samples = acceleration.shape[1]
    ds = window_dataset(
        acceleration,
        pd.date_range("2016-01-01", periods=n, freq=f"{step_s}s"),
        annotations,
        sample_rate=round(samples / length_s),
        window_length_s=length_s,
        window_step_s=step_s,
        rows_read=n * samples,
        hours_recorded=n * length_s / 3600,
        hours_annotated=n * length_s / 3600,
        windows_dropped={},
    )
    ds = participant_windows(ds, participant, path)
    write_dataset(ds, path, chunks={"acceleration": (7, *acceleration.shape[1:])})
    return ds


def write_dictionary(path, labels, scheme="Test"):
    """An annotation-label dictionary at `path` whose `scheme` labels each annotation of `labels`
    (annotation: label)."""
    rows = "".join(f"{annotation},{label}\n" for annotation, label in labels.items())
    path.write_text(f"annotation,label:{scheme}\n{rows}")
    return path


def write_recording(path, start, acceleration, annotation):
    """A Capture-24 style CSV at 100 Hz, written with pandas as an independent writer."""
    time = pd.Timestamp(start) + pd.to_timedelta(np.arange(len(acceleration)) * 10, unit="ms")
    frame = pd.DataFrame(
        {
            "time": time.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "x": acceleration[:, 0],
            "y": acceleration[:, 1],
            "z": acceleration[:, 2],
            "annotation": annotation,
        }
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def made_once(tmp_path_factory, name, make):
    """The folder `name` of this pytest run, made by `make(folder)` the first time it is asked
    for, by whichever pytest-xdist worker asks first. pytest-xdist tears a worker's fixtures
    down, session ones too, whenever its queue of tests runs dry, and the next test would make
    the folder again: minutes, for a Snakemake run."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the workers' folders' common one
    folder, made = root / name, root / f"{name}.made"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            made.touch()
    return folder


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """The small workflow (SMALL) run once, for every module that reads its
    results; a test that changes the folder works on a copy."""

    def make(folder):
        result = snakemake(workflow_folder(folder), "--cores", "2")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    return made_once(tmp_path_factory, "small_run", make)


@pytest.fixture
def cache_pools(monkeypatch):
    """The thread counts of the cache reader's pools, each appended as a pool is made."""
    from spectrohar.cache import reader as cache

    pools = []

    class Recorded(cache.ThreadPoolExecutor):
        def __init__(self, max_workers=None, *args, **kwargs):
            pools.append(max_workers)
            super().__init__(max_workers, *args, **kwargs)

    monkeypatch.setattr(cache, "ThreadPoolExecutor", Recorded)
    return pools


def pytest_xdist_auto_num_workers(config):
    """Workers for `-n auto`: on CI's two cores, two for the quick part, whose tests keep the
    cores busy, and three for the whole suite, where most tests wait on Snakemake subprocesses
    and a third worker fills the waits (the suite took 10 min with two, 8 with three)."""
    return 2 if "not slow" in (config.option.markexpr or "") else 3


# Modules whose module-scoped runs take minutes: each runs on one worker, so that its run is
# made once and no worker waits for another's; every other test goes wherever a worker is free,
# which balances the workers best.
ONE_WORKER = ("tests/test_own_data.py", "tests/test_prediction.py")


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduler of scopes, a scope being one of ONE_WORKER or one test."""
    from xdist.scheduler import LoadScopeScheduling

    class ByRun(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER else nodeid

    return ByRun(config, log)
