from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


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


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """The small workflow (test_workflow.SMALL) run once, for every module that reads its
    results; a test that changes the folder works on a copy."""
    from test_workflow import snakemake, workflow_folder

    folder = workflow_folder(tmp_path_factory.mktemp("run"))
    result = snakemake(folder, "--cores", "2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return folder


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
