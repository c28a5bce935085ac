import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

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
