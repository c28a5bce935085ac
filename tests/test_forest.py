import re

import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml
from conftest import REPO, write_dictionary
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import cohen_kappa_score
from sklearn.preprocessing import FunctionTransformer

from spectrohar import settings
from spectrohar.cache.features import FEATURES
from spectrohar.cache.layout import feature_dataset
from spectrohar.cache.stores import write_dataset
from spectrohar.errors import DataError
from spectrohar.evaluation.evaluate import build
from spectrohar.models.forest import (
    TRUSTED,
    fit,
    fit_forest,
    forest_probabilities,
    load,
    load_forest,
)

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


NOT_OURS = "not read, as it is no model that the train_forest rule saved"


def test_a_file_that_is_no_saved_forest_is_refused_and_runs_no_code(tmp_path):
    planted = tmp_path / "planted.skops"
    skops.io.dump({"model": FunctionTransformer(func=print)}, planted)  # would call print
    damaged = tmp_path / "damaged.skops"
    damaged.write_bytes(b"not a zip archive")
    for path in (planted, damaged):
        with pytest.raises(DataError, match=rf"^{path}: {NOT_OURS} \("):
            load_forest(path, 1)


def test_an_archive_of_trusted_types_that_is_no_saved_forest_is_one_sentence(tmp_path, rng):
    x, y = clusters(rng, 10, 0.1)
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(x, y)
    reasons = {
        "TypeError: it holds an object of type RandomForestClassifier, not a dict": forest,
        "TypeError: it holds an object of type list, not a dict": [1, 2],
        "KeyError: 'model'": {"forest": forest},
        "TypeError: its model is of type dict, not a random forest": {"model": {"a": 1}},
        "ValueError: its classes ['a'] are not its forest's": {"model": forest, "classes": ["a"]},
    }
    for i, (reason, saved) in enumerate(reasons.items()):
        path = tmp_path / f"{i}.skops"
        skops.io.dump(saved, path)
        with pytest.raises(DataError, match=f"^{re.escape(f'{path}: {NOT_OURS} ({reason})')}$"):
            load(path, "cpu", 1)


def feature_stores(folder, rng, length_s=30):
    """Feature stores of P001 (training), P002 (validation) and P101 (test), 24 windows each of
    `length_s` s at 100 Hz, annotated sleep and walking in turn, the classes their features
    tell apart; their split table and dictionary."""
    stores = []
    for day, participant in enumerate(("P001", "P002", "P101")):
        annotations = np.array(["sleep", "walking"] * 12)
        features = rng.normal(size=(24, len(FEATURES))) + 3 * (annotations == "sleep")[:, None]
        start = pd.Timestamp("2016-01-01") + pd.Timedelta(days=day)
        write_dataset(
            feature_dataset(
                features.astype(np.float32),
                list(FEATURES),
                participant=[participant] * 24,
                window_start=pd.date_range(start, periods=24, freq=f"{length_s}s"),
                annotation=annotations,
                sample_rate=100,
                window_length_s=length_s,
                window_step_s=length_s,
            ),
            folder / f"{participant}.zarr",
        )
        stores.append(folder / f"{participant}.zarr")
    split = folder / "split.csv"
    split.write_text("participant,set\nP001,train\nP002,validation\nP101,test\n")
    dictionary = write_dictionary(folder / "dictionary.csv", {"sleep": "sleep", "walking": "walk"})
    return stores, split, dictionary


LABELS = {"scheme": "Test", "dictionary": None, "unknown": "error"}


def trained_forest(inputs, path):
    """A forest fitted as the train_forest rule fits one on the feature stores `inputs`."""
    options = forest_settings(n_estimators=5, min_samples_leaf=[1], seed=0)
    sections = settings.sections({"forest": options, "labels": LABELS})
    fit(*inputs, path, path.with_name("history.csv"), memory_mb=0, threads=1, **sections)
    return path


def evaluated(inputs, model):
    """The evaluate rule's table of the forest `model` on the feature stores `inputs`."""
    table = model.with_name("predictions.parquet")
    labels = settings.section("labels", LABELS)
    build("forest", *inputs, model, table, device="cpu", labels=labels, memory_mb=0, threads=1)
    return pd.read_parquet(table)


@pytest.mark.parametrize(
    ("name", "saved", "theirs"),
    [
        ("window_length_s", "10", "30"),
        ("sample_rate", "50", "100"),
        ("feature", "angle_x, angle_y, angle_z", ", ".join(FEATURES)),
    ],
)
def test_a_forest_of_other_stores_is_one_sentence_naming_both_values(
    tmp_path, rng, name, saved, theirs
):
    inputs = feature_stores(tmp_path, rng)
    path = trained_forest(inputs, tmp_path / "model.skops")
    assert evaluated(inputs, path).set.tolist() == ["validation"] * 24 + ["test"] * 24

    # The forest saved as one trained on other windows, or a forest of other features.
    contents = skops.io.load(path, trusted=TRUSTED)
    if name == "feature":
        contents["features"] = ["angle_x", "angle_y", "angle_z"]
        contents["model"].fit(rng.normal(size=(4, 3)), ["sleep", "walk"] * 2)
    else:
        contents["windows"][name] = int(saved)
    other = tmp_path / "other.skops"
    skops.io.dump(contents, other)
    message = (
        f"{other}: a model trained on stores of {name} {saved}, but {inputs[0][0]} has {name} "
        f"{theirs} (retrain it: snakemake --cores 8 --forcerun train_forest)"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        evaluated(inputs, other)
