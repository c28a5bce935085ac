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
