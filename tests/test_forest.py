import numpy as np
import pytest
import skops.io
import yaml
from conftest import REPO
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import cohen_kappa_score
from sklearn.preprocessing import FunctionTransformer

from spectrohar.errors import DataError
from spectrohar.models.forest import fit_forest, forest_probabilities, load_forest

CLASSES = np.array(["sleep", "sit-stand", "walking"])
DEFAULTS = yaml.safe_load((REPO / "config.yaml").read_text())["forest"]


def forest_settings(**options):
    """The config's forest section with `options` over it."""
    return {**DEFAULTS, **options}


def clusters(rng, n, spread):
    """`n` windows of 4 features per class, each class around its own centre, classes cycled."""
    y = CLASSES[np.arange(n * len(CLASSES)) % len(CLASSES)]
    centres = {c: 3 * np.eye(4)[i] for i, c in enumerate(CLASSES)}
    x = np.array([centres[c] for c in y]) + rng.normal(scale=spread, size=(len(y), 4))
    return x.astype(np.float32), y


def test_a_separable_set_is_classified_perfectly(rng):
    x, y = clusters(rng, 40, 0.1)
    x_validation, y_validation = clusters(rng, 20, 0.1)
    options = {"n_estimators": 10, "min_samples_leaf": [1, 3]}
    model, history = fit_forest(
        x, y, x_validation, y_validation, options=forest_settings(**options, seed=0), threads=1
    )
    assert (model.predict(x_validation) == y_validation).all()
    assert list(history.val_kappa) == [1, 1] and list(history.val_macro_f1) == [1, 1]
    assert list(history.selected) == [True, False]  # a tie keeps the first candidate
    probabilities = forest_probabilities(model, x_validation)
    assert probabilities.shape == (len(x_validation), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    # Columns in model.classes_ order: each window's most probable class is its own.
    np.testing.assert_array_equal(model.classes_[probabilities.argmax(axis=1)], y_validation)


def test_the_candidate_with_the_best_validation_kappa_is_selected(rng):
    # Overlapping classes with label noise, so that leaf size changes the validation kappa.
    x, y = clusters(rng, 150, 1.6)
    y = np.where(rng.random(len(y)) < 0.2, rng.choice(CLASSES, len(y)), y)
    x_validation, y_validation = clusters(rng, 100, 1.6)
    grid = [1, 8, 40]
    options = {"n_estimators": 15, "min_samples_leaf": grid, "class_weight": "none"}
    model, history = fit_forest(
        x, y, x_validation, y_validation, options=forest_settings(**options, seed=3), threads=2
    )
    # Each candidate as sklearn fits and scores it on its own.
    kappas = [
        cohen_kappa_score(
            y_validation,
            RandomForestClassifier(n_estimators=15, min_samples_leaf=leaf, random_state=3)
            .fit(x, y)
            .predict(x_validation),
        )
        for leaf in grid
    ]
    assert len(set(np.round(kappas, 6))) == 3  # the candidates differ: the choice means something
    np.testing.assert_allclose(history.val_kappa, kappas)
    assert list(history.min_samples_leaf) == grid
    assert list(history.selected) == list(np.arange(3) == np.argmax(kappas))
    assert model.min_samples_leaf == grid[int(np.argmax(kappas))]
    assert cohen_kappa_score(y_validation, model.predict(x_validation)) == max(kappas)


@pytest.mark.parametrize(("max_samples", "drawn"), [(20, 20), (10_000, 90), (None, 90)])
def test_each_tree_draws_at_most_max_samples_windows(rng, max_samples, drawn):
    x, y = clusters(rng, 30, 1.0)
    options = {"n_estimators": 5, "min_samples_leaf": [1], "max_samples": max_samples}
    options = forest_settings(**options, class_weight="none", seed=0)
    model, _ = fit_forest(x, y, x, y, options=options, threads=1)
    # Unweighted, a tree's root weighs as many windows as its bootstrap sample drew.
    assert [tree.tree_.weighted_n_node_samples[0] for tree in model.estimators_] == [drawn] * 5


def test_a_file_that_is_no_saved_forest_is_refused_and_runs_no_code(tmp_path):
    planted = tmp_path / "planted.skops"
    skops.io.dump({"model": FunctionTransformer(func=print)}, planted)  # would call print
    damaged = tmp_path / "damaged.skops"
    damaged.write_bytes(b"not a zip archive")
    for path in (planted, damaged):
        with pytest.raises(DataError, match=rf"^{path}: not read, as it is not a forest"):
            load_forest(path, 1)
