import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from test_train import assert_ran_nothing, banded_noise, plant, train_here, write_inputs

from spectrohar import evaluate
from spectrohar.errors import DataError
from spectrohar.evaluate import score


def test_scores_by_hand():
    true = np.array(["sleep", "sleep", "walk", "walk", "sit", "sit", "sit", "sit"])
    predicted = np.array(["sleep", "sleep", "walk", "sit", "sit", "sit", "sit", "walk"])
    participants = np.array(["P101"] * 4 + ["P102"] * 4)
    result = score(true, predicted, participants)
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["classes"] == ["sit", "sleep", "walk"]
    assert result["confusion_matrix"] == [[3, 0, 1], [0, 2, 0], [1, 0, 1]]
    # Recalls: sit 3/4, sleep 1, walk 1/2.
    assert result["balanced_accuracy"] == pytest.approx((0.75 + 1 + 0.5) / 3)
    assert result["per_class"]["walk"]["precision"] == pytest.approx(0.5)
    # Observed agreement 6/8, chance (4*4 + 2*2 + 2*2)/64 = 24/64.
    assert result["kappa"] == pytest.approx((6 / 8 - 24 / 64) / (1 - 24 / 64))
    assert result["per_participant_kappa"]["P101"] == pytest.approx(
        cohen_kappa_score(true[:4], predicted[:4])
    )
    assert result["n_windows"] == 8


def test_a_participant_with_one_class_has_no_kappa():
    result = score(
        np.array(["sit", "sit", "walk"]),
        np.array(["sit", "sit", "walk"]),
        np.array(["P101", "P101", "P102"]),
    )
    assert result["per_participant_kappa"] == {"P101": None, "P102": None}
    assert result["kappa"] == pytest.approx(1.0)


def evaluate_here(inputs, checkpoint, folder):
    """Evaluate in this process, writing predictions, metrics and report to `folder`."""
    outputs = [folder / name for name in ("predictions.parquet", "metrics.json", "report.txt")]
    evaluate.build(*inputs, checkpoint, *outputs, device="cpu", memory_budget_mb=0)


@pytest.fixture
def trained(tmp_path, rng):
    """The arrays of a small store, the store and split table written from them, and a model
    trained on them for one epoch (tmp_path/model.pt)."""
    labels, x = banded_noise(rng)
    inputs = write_inputs(tmp_path, labels, x)
    train_here(inputs, tmp_path, max_epochs=1)
    return labels, x, inputs


def test_the_test_participants_are_predicted(trained, tmp_path):
    evaluate_here(trained[2], tmp_path / "model.pt", tmp_path)
    predictions = pd.read_parquet(tmp_path / "predictions.parquet")
    assert (predictions.participant == "P101").all() and len(predictions) == 64
    probabilities = predictions.filter(like="probability_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_a_planted_checkpoint_runs_nothing(tmp_path, rng):
    planted, marker = tmp_path / "model.pt", tmp_path / "MARKER"
    plant(planted, marker)
    message = (
        f"{planted}: not read, as it is not a file of tensors and plain Python values that this "
        "pipeline writes (nothing else is ever unpickled)"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        evaluate_here(write_inputs(tmp_path, *banded_noise(rng)), planted, tmp_path)
    assert_ran_nothing(planted, marker)


def test_test_participants_without_windows_are_an_error(trained, tmp_path):
    store, split = trained[2]
    split.write_text("participant,set\nP001,train\nP002,validation\nP151,test\nP150,test\n")
    message = f"{split}: the test participants P150, P151 have no windows in {store}"
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        evaluate_here((store, split), tmp_path / "model.pt", tmp_path)


def test_non_finite_probabilities_stop_evaluation(trained, tmp_path):
    labels, x, _ = trained
    x[400, 1, 30, 30] = np.nan  # the 17th window of P101, at 400 * 30 s
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    store, split = write_inputs(damaged, labels, x)
    message = (
        f"{store}: the model in {tmp_path / 'model.pt'} gives non-finite probabilities for 1 of "
        "64 test windows (the first: P101 at 2016-01-01 03:20:00); check the store with "
        "`spectrohar inspect`"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        evaluate_here((store, split), tmp_path / "model.pt", damaged)
    assert not (damaged / "predictions.parquet").exists()
