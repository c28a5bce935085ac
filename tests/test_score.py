"""The score step: metrics of a hand-made predictions table, checked against sklearn."""

import json

import pandas as pd
import pytest
from sklearn import metrics as skm

from spectrohar.evaluation import score
from spectrohar.evaluation.compare import bootstrap_intervals

TRUE = ["sleep", "sleep", "walk", "walk", "sit", "sit", "sit", "sit"]
PREDICTED = ["sleep", "sleep", "walk", "sit", "sit", "sit", "sit", "walk"]


def predictions(true, predicted, participants, name="test") -> pd.DataFrame:
    """A predictions table's columns that scoring reads."""
    return pd.DataFrame(
        {"set": name, "participant": participants, "label": true, "predicted": predicted}
    )


def test_the_scores_of_a_hand_made_table():
    table = predictions(TRUE, PREDICTED, ["P101"] * 4 + ["P102"] * 4)
    untouched = table.copy()
    result = score.score(table)
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["classes"] == ["sit", "sleep", "walk"]
    assert result["confusion_matrix"] == [[3, 0, 1], [0, 2, 0], [1, 0, 1]]
    # Recalls: sit 3/4, sleep 1, walk 1/2.
    assert result["balanced_accuracy"] == pytest.approx((0.75 + 1 + 0.5) / 3)
    assert result["per_class"]["walk"]["precision"] == pytest.approx(0.5)
    # Observed agreement 6/8, chance (4*4 + 2*2 + 2*2)/64 = 24/64.
    assert result["kappa"] == pytest.approx((6 / 8 - 24 / 64) / (1 - 24 / 64))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(TRUE, PREDICTED, average="macro"))
    assert result["per_class"] == skm.classification_report(TRUE, PREDICTED, output_dict=True)
    assert result["per_participant_kappa"] == {
        "P101": pytest.approx(skm.cohen_kappa_score(TRUE[:4], PREDICTED[:4])),
        "P102": pytest.approx(skm.cohen_kappa_score(TRUE[4:], PREDICTED[4:])),
    }
    assert result["n_windows"] == 8
    # Pure: the table is as it was, and the same table scores the same.
    pd.testing.assert_frame_equal(table, untouched)
    assert score.score(table) == result


def test_a_participant_with_one_class_has_no_kappa():
    result = score.score(
        predictions(["sit", "sit", "walk"], ["sit", "sit", "walk"], ["P101"] * 2 + ["P102"])
    )
    assert result["per_participant_kappa"] == {"P101": None, "P102": None}
    assert result["kappa"] == pytest.approx(1.0)


def test_the_score_rule_scores_the_test_rows_only(tmp_path):
    # Validation rows that are all wrong would lower every score if they were counted.
    validation = predictions(["sit", "walk"], ["walk", "sit"], ["P002", "P002"], "validation")
    test = predictions(TRUE, PREDICTED, ["P101"] * 4 + ["P102"] * 4)
    table = pd.concat([validation, test], ignore_index=True)
    table.attrs = {"model": "cnn", "device": "cuda"}
    table.to_parquet(tmp_path / "predictions.parquet", index=False)
    metrics, report = tmp_path / "metrics.json", tmp_path / "classification_report.txt"
    split = pd.DataFrame(
        {"participant": ["P002", "P101", "P102"], "set": ["validation", "test", "test"]}
    )
    split.assign(sex=["F", "F", "M"]).to_csv(tmp_path / "split.csv", index=False)

    # The score rule's bootstrap params.
    bootstrap = {"resamples": 50, "confidence": 0.9, "seed": 3}
    score.build(
        tmp_path / "predictions.parquet", tmp_path / "split.csv", metrics, report, **bootstrap
    )

    written = json.loads(metrics.read_text())
    groups = written.pop("groups")
    # The intervals of the test rows only, by the settings' resamples, seed and confidence.
    intervals = written.pop("intervals")
    expected_intervals = bootstrap_intervals(test, n_resamples=50, seed=3, confidence=0.9)
    assert intervals == json.loads(json.dumps(expected_intervals))
    expected = {**score.score(test), "device": "cuda"}
    assert written == json.loads(json.dumps(expected))
    # Per group of the metadata: kappa of the pooled windows of its test participants.
    assert groups == {
        "sex": [
            {
                "group": sex,
                "participants": 1,
                "windows": 4,
                "kappa": skm.cohen_kappa_score(TRUE[rows], PREDICTED[rows]),
            }
            for sex, rows in (("F", slice(0, 4)), ("M", slice(4, 8)))
        ]
    }
    assert report.read_text() == skm.classification_report(TRUE, PREDICTED, zero_division=0)
