"""HMM smoothing: Viterbi against brute force, counts worked out by hand, runs and gaps."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from conftest import window_store

from spectrohar.errors import DataError
from spectrohar.models import hmm
from spectrohar.models.hmm import HMM, contiguous_runs, fit_hmm, load_hmm, smooth, viterbi
from spectrohar.settings import Labels
from spectrohar.sources.labels import PACKAGED_DICTIONARY


def starts(seconds):
    return pd.Timestamp("2016-11-13 10:00") + pd.to_timedelta(seconds, unit="s")


def test_runs_break_at_gaps_and_new_participants():
    participant = ["P001"] * 4 + ["P002"] * 2
    # P002 starts one window length after P001's last window, but is another participant.
    window_start = starts([0, 30, 60, 120, 150, 180])
    assert contiguous_runs(participant, window_start, 30).tolist() == [0, 0, 0, 1, 2, 2]
    # 10 s windows: every step of 30 s is a gap.
    assert contiguous_runs(participant, window_start, 10).tolist() == [0, 1, 2, 3, 4, 5]
    assert contiguous_runs([], starts([]), 30).tolist() == []
    # 30 s windows every 15 s: a run's windows are one step apart.
    assert (
        contiguous_runs(["P001"] * 5, starts([0, 15, 30, 60, 75]), 15).tolist() == [0] * 3 + [1] * 2
    )


@pytest.mark.parametrize(
    "participant, seconds",
    [
        (["P001"] * 3, [0, 60, 30]),  # not in time order
        (["P001"] * 2, [0, 0]),  # the same window twice
        (["P001", "P002", "P001"], [0, 0, 30]),  # P001's windows apart
    ],
)
def test_runs_refuse_windows_out_of_order(participant, seconds):
    with pytest.raises(ValueError, match="out of order"):
        contiguous_runs(participant, starts(seconds), 30)


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_finds_the_best_of_every_path(seed):
    rng = np.random.default_rng(seed)
    k, n = 3, 5
    start = rng.dirichlet(np.ones(k))
    transition = rng.dirichlet(np.ones(k), size=k)
    emission = rng.dirichlet(np.ones(k), size=k)
    observed = rng.integers(0, k, n)

    def probability(path):
        p = start[path[0]] * emission[path[0], observed[0]]
        for t in range(1, n):
            p *= transition[path[t - 1], path[t]] * emission[path[t], observed[t]]
        return p

    best = max(itertools.product(range(k), repeat=n), key=probability)
    found = viterbi(np.log(start), np.log(transition), np.log(emission[:, observed].T))
    assert found.tolist() == list(best)


def test_fitted_probabilities_are_the_counts_worked_out_by_hand():
    # Runs: a a b b b | c a a | x b, where x is no class; b -> c crosses runs, not counted.
    labels = list("aabbbcaaxb")
    runs = [0] * 5 + [1] * 3 + [2] * 2
    hmm = fit_hmm(labels, runs, list("aabcx"), list("abbac"), classes=["a", "b", "c"])
    assert hmm.classes == ("a", "b", "c")
    # Starts a, c (the run starting with x gives none), plus one each.
    np.testing.assert_allclose(hmm.start, np.array([2, 1, 2]) / 5)
    # a->a twice, a->b once, b->b twice, c->a once, plus one each.
    np.testing.assert_allclose(
        hmm.transition, [[3 / 6, 2 / 6, 1 / 6], [1 / 5, 3 / 5, 1 / 5], [2 / 4, 1 / 4, 1 / 4]]
    )
    # Validation (true, predicted): (a, a), (a, b), (b, b), (c, a); (x, c) left out.
    np.testing.assert_allclose(
        hmm.emission, [[2 / 5, 2 / 5, 1 / 5], [1 / 4, 2 / 4, 1 / 4], [2 / 4, 1 / 4, 1 / 4]]
    )


def test_fitting_refuses_predictions_outside_the_classes():
    with pytest.raises(ValueError, match="outside the classes"):
        fit_hmm(list("ab"), [0, 0], list("ab"), list("az"), classes=["a", "b"])


STICKY = HMM(
    classes=("sleep", "walk"),
    start=np.array([0.5, 0.5]),
    transition=np.array([[0.99, 0.01], [0.01, 0.99]]),
    emission=np.array([[0.8, 0.2], [0.2, 0.8]]),
)


def test_each_run_is_decoded_on_its_own():
    predicted = ["sleep"] * 10 + ["walk"]
    # Decoded together, a switch (0.01) costs more than one walk prediction (0.8 vs 0.2) gains.
    assert smooth(STICKY, predicted, [0] * 11).tolist() == ["sleep"] * 11
    runs = contiguous_runs(["P001"] * 11, starts([30 * i for i in range(10)] + [400]), 30)
    alone = [*smooth(STICKY, predicted[:10], [0] * 10), *smooth(STICKY, predicted[10:], [0])]
    assert smooth(STICKY, predicted, runs).tolist() == alone == ["sleep"] * 10 + ["walk"]


def test_smoothing_removes_an_isolated_flip_and_keeps_a_bout():
    rng = np.random.default_rng(1)
    bouts = [("sleep", 300), ("walk", 60), ("sleep", 200), ("walk", 80)]
    train = np.concatenate([[label] * n for label, n in bouts])
    validation = rng.choice(["sleep", "walk"], size=2000)
    wrong = rng.random(2000) < 0.15
    validation_predicted = np.where(
        wrong, np.where(validation == "sleep", "walk", "sleep"), validation
    )
    hmm = fit_hmm(train, np.zeros(train.size), validation, validation_predicted, ["sleep", "walk"])

    predicted = ["sleep"] * 30 + ["walk"] + ["sleep"] * 30 + ["walk"] * 20
    smoothed = smooth(hmm, predicted, np.zeros(len(predicted)))
    assert smoothed.tolist() == ["sleep"] * 61 + ["walk"] * 20


def test_smoothing_refuses_predictions_outside_the_classes():
    with pytest.raises(ValueError, match="outside the HMM's classes"):
        smooth(STICKY, ["sleep", "run"], [0, 0])


def test_a_file_that_is_no_saved_hmm_is_one_sentence(tmp_path):
    for name, text in (("cut.json", '{"classes": ["a"'), ("other.json", '{"classes": ["a"]}')):
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=rf"^{tmp_path / name}: not read, as it is no HMM"):
            load_hmm(tmp_path / name, ["a"], 30, 30, "model.pt")


SLEEP = "7030 sleeping;MET 0.95"
SIT = "occupation;office and administrative support;11580 office/computer work general;MET 1.5"


def test_the_hmm_of_overlapping_windows_counts_transitions_one_step_apart(tmp_path, rng):
    # Training P001: 30 s windows every 15 s, 6 of sleep then 4 of sitting; validation P002.
    split = tmp_path / "split.csv"
    split.write_text("participant,set\nP001,train\nP002,validation\n")
    for participant in ("P001", "P002"):
        window_store(
            tmp_path / f"{participant}.zarr",
            participant,
            [SLEEP] * 6 + [SIT] * 4,
            rng=rng,
            step_s=15,
        )
    label = np.array(["sleep"] * 6 + ["sit-stand"] * 4, dtype=object)
    table = pd.DataFrame(
        {
            "set": "validation",
            "participant": "P002",
            "window_start": pd.date_range("2016-01-01", periods=10, freq="15s"),
            "label": label,
            "predicted": label,
            "probability_sit-stand": (label == "sit-stand").astype(float),
            "probability_sleep": (label == "sleep").astype(float),
        }
    )
    table.to_parquet(tmp_path / "predictions.parquet", index=False)
    hmm.build(
        tmp_path / "predictions.parquet",
        [tmp_path / "P001.zarr", tmp_path / "P002.zarr"],
        split,
        PACKAGED_DICTIONARY,
        tmp_path / "smoothed.parquet",
        tmp_path / "hmm.json",
        labels=Labels(scheme="Willetts2018", dictionary=None, unknown="error"),
    )
    saved = json.loads((tmp_path / "hmm.json").read_text())
    assert saved["window_length_s"] == 30 and saved["window_step_s"] == 15
    # One run of 10 windows: 3 sitting -> sitting, 5 sleep -> sleep, 1 sleep -> sitting.
    transition = np.array([[3, 0], [1, 5]]) + 1
    np.testing.assert_allclose(saved["transition"], transition / transition.sum(1, keepdims=True))
    with pytest.raises(
        DataError, match=r"of 30 s windows every 15 s, not over those of the model "
    ):
        load_hmm(tmp_path / "hmm.json", ["sit-stand", "sleep"], 30, 30, "model.pt")
    loaded = load_hmm(tmp_path / "hmm.json", ["sit-stand", "sleep"], 30, 15, "model.pt")
    np.testing.assert_allclose(loaded.transition, saved["transition"])
