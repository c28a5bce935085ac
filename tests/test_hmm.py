"""HMM smoothing: Viterbi against brute force, counts worked out by hand, runs and gaps."""

import itertools

import numpy as np
import pandas as pd
import pytest

from spectrohar.errors import DataError
from spectrohar.models.hmm import HMM, contiguous_runs, fit_hmm, load_hmm, smooth, viterbi


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
            load_hmm(tmp_path / name, ["a"], 30, "model.pt")
