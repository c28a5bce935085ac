"""Bootstrap intervals over participants: metrics from confusion matrices against sklearn, the
resampling unit, seeds, and the comparison table."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from spectrohar.evaluation.compare import (
    METRICS,
    bootstrap_intervals,
    comparison_table,
    confusion_matrices,
    metrics_of,
)


def sklearn_metrics(true, predicted) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns where kappa is undefined
        return {
            "kappa": skm.cohen_kappa_score(true, predicted),
            "macro_f1": skm.f1_score(true, predicted, average="macro", zero_division=0),
            "accuracy": skm.accuracy_score(true, predicted),
            "balanced_accuracy": skm.balanced_accuracy_score(true, predicted),
        }


def random_table(rng, n_windows, n_participants, truth="abcd", predictions="abcd", right=0.6):
    """Predictions right with probability `right`, else any of `predictions`."""
    label = rng.choice(list(truth), n_windows)
    guess = rng.choice(list(predictions), n_windows)
    predicted = np.where(rng.random(n_windows) < right, label, guess)
    participant = rng.choice([f"P{i:03d}" for i in range(n_participants)], n_windows)
    return pd.DataFrame({"participant": participant, "label": label, "predicted": predicted})


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "truth, predictions",
    [
        ("abcd", "abcd"),
        ("abc", "bcd"),  # d never true, a predicted only where right
        ("ab", "cd"),  # right 0: no class both true and predicted
        ("a", "a"),  # one class: kappa undefined
        ("a", "b"),
    ],
)
@pytest.mark.parametrize("right", [0.0, 0.6])
def test_metrics_from_confusion_matrices_are_sklearns(seed, truth, predictions, right):
    rng = np.random.default_rng(seed)
    table = random_table(rng, 60, 5, truth, predictions, right)
    classes = sorted("abcde")  # e in neither
    confusion = confusion_matrices(table.participant, table.label, table.predicted, classes)
    for participant, matrix in zip(pd.unique(table.participant), confusion, strict=True):
        mine = table[table.participant == participant]
        expected = skm.confusion_matrix(mine.label, mine.predicted, labels=classes)
        np.testing.assert_array_equal(matrix, expected)
    found = metrics_of(confusion.sum(axis=0))
    expected = sklearn_metrics(table.label, table.predicted)
    for name in METRICS:
        assert found[name] == pytest.approx(expected[name], nan_ok=True), name


def test_intervals_are_seeded():
    table = random_table(np.random.default_rng(0), 3000, 30)
    first = bootstrap_intervals(table, n_resamples=200, seed=1)
    assert bootstrap_intervals(table, n_resamples=200, seed=1) == first
    other = bootstrap_intervals(table, n_resamples=200, seed=2)
    for name in METRICS:
        assert (other[name]["low"], other[name]["high"]) != (
            first[name]["low"],
            first[name]["high"],
        )


def test_the_estimate_is_sklearns_on_all_rows_and_inside_its_interval():
    table = random_table(np.random.default_rng(3), 5000, 40)
    result = bootstrap_intervals(table, n_resamples=300, seed=0)
    expected = sklearn_metrics(table.label, table.predicted)
    for name in METRICS:
        interval = result[name]
        assert interval["estimate"] == pytest.approx(expected[name])
        assert interval["low"] < interval["estimate"] < interval["high"]
    assert result["n_windows"] == 5000
    assert result["n_participants"] == 40
    assert (result["n_resamples"], result["confidence"]) == (300, 0.95)


def test_one_participant_has_an_interval_of_no_width():
    table = random_table(np.random.default_rng(4), 500, 1)
    result = bootstrap_intervals(table, n_resamples=50, seed=0)
    for name in METRICS:
        interval = result[name]
        assert interval["low"] == interval["high"] == interval["estimate"]


def test_participants_not_windows_are_resampled():
    # 20 participants of 100 windows, 10 all right and 10 all wrong: a resample's accuracy is
    # the share of right participants drawn, Binomial(20, 1/2) / 20; resampling windows would
    # give an interval about 0.02 wide.
    rng = np.random.default_rng(5)
    participant = np.repeat([f"P{i:03d}" for i in range(20)], 100)
    label = rng.choice(["sit", "walk"], 2000)
    other = np.where(label == "sit", "walk", "sit")
    predicted = np.where(np.repeat(np.arange(20) < 10, 100), label, other)
    table = pd.DataFrame({"participant": participant, "label": label, "predicted": predicted})
    result = bootstrap_intervals(table, n_resamples=4000, seed=0, confidence=0.9)
    low, high = stats.binom.ppf([0.05, 0.95], 20, 0.5) / 20
    assert result["accuracy"]["low"] == pytest.approx(low, abs=0.03)
    assert result["accuracy"]["high"] == pytest.approx(high, abs=0.03)


def test_the_comparison_table_has_a_row_per_model_and_smoothing():
    table = random_table(np.random.default_rng(6), 1000, 10)
    none = bootstrap_intervals(table, n_resamples=20, seed=0)
    hmm = bootstrap_intervals(table.assign(predicted=table.label), n_resamples=20, seed=0)
    result = comparison_table([("cnn", "none", none), ("cnn", "hmm", hmm)])
    assert list(result.columns[:4]) == ["model", "smoothing", "n_windows", "n_participants"]
    assert list(result.columns[4:]) == [
        f"{name}{end}" for name in METRICS for end in ("", "_low", "_high")
    ]
    assert result.model.tolist() == ["cnn", "cnn"]
    assert result.smoothing.tolist() == ["none", "hmm"]
    assert result.n_windows.tolist() == [1000, 1000]
    assert result.kappa.tolist() == [none["kappa"]["estimate"], 1.0]
    assert result.macro_f1_low.tolist() == [none["macro_f1"]["low"], 1.0]
    assert result.accuracy_high.tolist() == [none["accuracy"]["high"], 1.0]
    assert result.attrs == {"confidence": 0.95, "n_resamples": 20}
    with pytest.raises(ValueError, match="one confidence"):
        comparison_table([("cnn", "none", none), ("cnn", "hmm", {**hmm, "confidence": 0.9})])
