"""Nothing fitted reads a test participant: the forest and the HMM are fitted with the test
participants' stores damaged (any read of them would stop with a DataError), and the HMM does not
change when the test participants' labels and predictions do."""

import json

import numpy as np
import pandas as pd
from conftest import window_store
from test_stores import flip_bytes

from spectrohar.cache import features
from spectrohar.models import forest, hmm
from spectrohar.settings import Labels, Model
from spectrohar.sources.labels import PACKAGED_DICTIONARY

SLEEP = "7030 sleeping;MET 0.95"
WALK = (
    "home activity;miscellaneous;walking;17150 walking household without observable loads;MET 2.0"
)
SETS = {"P001": "train", "P002": "validation", "P101": "test"}
LABELS = Labels(scheme="Willetts2018", dictionary=None, unknown="error")


def stores(folder, rng):
    """Window and feature stores of SETS' participants, bouts of sleep and walking, the test
    participant's acceleration and features damaged; the split table."""
    split = folder / "split.csv"
    pd.DataFrame({"participant": list(SETS), "set": list(SETS.values())}).to_csv(split, index=False)
    for participant in SETS:
        window_store(
            folder / f"{participant}.zarr", participant, [SLEEP] * 14 + [WALK] * 14, rng=rng
        )
        features.build(folder / f"{participant}.zarr", folder / f"{participant}-f.zarr", threads=1)
    for chunk in [
        *(folder / "P101.zarr" / "acceleration").rglob("c/*/*/*"),
        *(folder / "P101-f.zarr" / "features").rglob("c/*/*"),
    ]:
        flip_bytes(chunk)
    return split


def test_the_forest_is_fitted_without_reading_the_test_participants(tmp_path, rng):
    split = stores(tmp_path, rng)
    options = {"n_estimators": 5, "min_samples_leaf": [1], "max_features": "sqrt"}
    options |= {"max_samples": None, "class_weight": "none", "seed": 0}
    forest.fit(
        [tmp_path / f"{p}-f.zarr" for p in SETS],
        split,
        PACKAGED_DICTIONARY,
        tmp_path / "model.skops",
        tmp_path / "history.csv",
        forest=Model("forest", options),
        labels=LABELS,
        memory_mb=1000,
        threads=1,
    )
    assert forest.load_forest(tmp_path / "model.skops", 1)["classes"] == ["sleep", "walking"]


def predictions(rng, test_label):
    """A predictions table of the validation and test windows, the test ones' labels and
    predictions all `test_label`."""
    start = pd.date_range("2016-01-01", periods=28, freq="30s")
    truth = np.array(["sleep"] * 14 + ["walking"] * 14, dtype=object)
    validation = truth.copy()
    validation[rng.choice(28, 4, replace=False)] = "walking"
    rows = {
        "validation": ("P002", truth, validation),
        "test": ("P101", np.full(28, test_label, object), np.full(28, test_label, object)),
    }
    return pd.concat(
        pd.DataFrame(
            {
                "set": name,
                "participant": participant,
                "window_start": start,
                "label": label,
                "predicted": predicted,
                "probability_sleep": (predicted == "sleep").astype(float),
                "probability_walking": (predicted == "walking").astype(float),
            }
        )
        for name, (participant, label, predicted) in rows.items()
    )


def test_the_hmm_is_fitted_without_the_test_participants(tmp_path, rng):
    split = stores(tmp_path, rng)
    fitted = []
    for test_label in ("sleep", "walking"):
        table = predictions(np.random.default_rng(1), test_label)
        table.attrs = {"model": "cnn", "device": "cpu"}
        table.to_parquet(tmp_path / "predictions.parquet", index=False)
        hmm.build(
            tmp_path / "predictions.parquet",
            [tmp_path / f"{p}.zarr" for p in SETS],
            split,
            PACKAGED_DICTIONARY,
            tmp_path / "smoothed.parquet",
            tmp_path / "hmm.json",
            labels=LABELS,
        )
        fitted.append(json.loads((tmp_path / "hmm.json").read_text()))
    assert fitted[0] == fitted[1]
    # One sleep and one walking bout in training: 26 stays, one change, and a start in sleep.
    transition = np.array([[13 + 1, 1 + 1], [0 + 1, 13 + 1]])
    np.testing.assert_allclose(
        fitted[0]["transition"], transition / transition.sum(1, keepdims=True)
    )
