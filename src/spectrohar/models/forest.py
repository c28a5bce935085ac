"""A random forest over (window, feature) arrays of hand-crafted features, as the Capture-24
benchmark's: one forest per candidate of a small grid, the one with the best validation Cohen's
kappa kept.

The grid is `min_samples_leaf`, the fewest training windows a leaf may hold: 1 grows each tree
out (the usual forest), larger leaves average more windows and give smoother probabilities.
Each tree grows from a bootstrap sample of at most `max_samples` training windows, which bounds
a forest's cost whatever the number of windows: uncapped, a candidate on Capture-24's ~300,000
windows takes about a quarter of an hour on two threads.
"""

import dataclasses
import logging
import zipfile

import numpy as np
import pandas as pd
import skops.io
import xarray as xr
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import cohen_kappa_score, f1_score

from spectrohar.cache.features import BLOCK_WINDOWS, FEATURES, window_features
from spectrohar.cache.stores import open_store, reading
from spectrohar.errors import DataError
from spectrohar.evaluation.split import split_participants
from spectrohar.models import Loaded, saved_contents
from spectrohar.settings import Labels
from spectrohar.sources.labels import labelled_windows, labelling
from spectrohar.versions import versions

log = logging.getLogger(__name__)

# The class weights a forest may use: none, each class weighing as much as any other over the
# training windows, or over each tree's bootstrap sample.
CLASS_WEIGHTS = {"none": None, "balanced": "balanced", "balanced_subsample": "balanced_subsample"}


def fit_forest(x_train, y_train, x_validation, y_validation, *, options, threads):
    """A forest for each min_samples_leaf of `options` (the config's forest section), seeded by
    its seed, fitted on the training windows with `threads` threads, and the one with the best
    validation kappa; returns (that forest, history), the history one row per candidate with its
    validation kappa and macro F1, its `selected` column marking the forest returned."""
    settings = options
    cap = settings["max_samples"]
    bootstrap = None if cap is None or cap >= len(x_train) else cap
    rows, best, selected = [], None, None
    for candidate, leaf in enumerate(settings["min_samples_leaf"]):
        forest = RandomForestClassifier(
            n_estimators=settings["n_estimators"],
            min_samples_leaf=leaf,
            max_features=settings["max_features"],
            max_samples=bootstrap,
            class_weight=CLASS_WEIGHTS[settings["class_weight"]],
            n_jobs=threads,
            random_state=settings["seed"],  # every candidate draws the same bootstrap samples
        ).fit(x_train, y_train)
        predicted = forest.predict(x_validation)
        kappa = float(cohen_kappa_score(y_validation, predicted))
        rows.append(
            {
                "min_samples_leaf": leaf,
                "val_kappa": kappa,
                "val_macro_f1": float(
                    f1_score(y_validation, predicted, average="macro", zero_division=0)
                ),
            }
        )
        if best is None or kappa > rows[selected]["val_kappa"]:
            best, selected = forest, candidate  # only the best is held: forests are large
    history = pd.DataFrame(rows)
    history["selected"] = history.index == selected
    return best, history


def forest_probabilities(model: RandomForestClassifier, x):
    """(window, class) probabilities of the windows `x`, classes in `model.classes_` order."""
    return model.predict_proba(x)


# What a saved forest holds besides plain values: scikit-learn's tree arrays. skops reads nothing
# else back, so a planted file runs no code.
TRUSTED = ["sklearn.tree._tree.Tree"]
# The feature stores' window settings a forest is saved with: a store it predicts on must have
# the same, a recording's windows are cut with them.
WINDOWS = ("window_length_s", "window_step_s", "sample_rate")


def set_features(stores, split_table, name, labelling) -> tuple[np.ndarray, xr.Dataset]:
    """The labelled windows of set `name` of the split table in the feature stores `stores`:
    their (window, feature) features and their coordinates (participant, window_start,
    annotation, label), store by store; a set without labelled windows is a DataError."""
    participants = set(split_participants(split_table, name))
    features, coords = [], []
    for path in stores:
        ds = open_store(path)
        mine, label = labelled_windows(ds, participants, labelling)
        if not len(mine):
            continue
        with reading(path):
            features.append(ds.features.values[mine])
        coords.append(
            ds[["participant", "window_start", "annotation"]]
            .isel(window=mine)
            .assign_coords(label=("window", label[mine]))
        )
    if not sum(len(part) for part in features):
        raise DataError(
            f"{split_table}: the {name} participants {', '.join(sorted(participants))} have no "
            "labelled windows in the feature stores"
        )
    return np.concatenate(features), xr.concat(coords, dim="window")


def load_forest(path, threads) -> dict:
    """What train_forest saved at `path` (the forest under "model", its "classes", the "windows"
    it takes, the "labels" settings and "features" it was trained on), predicting on `threads`."""
    try:
        saved = skops.io.load(path, trusted=TRUSTED)
    # BadZipFile: a file that is no skops archive (empty, cut short, another format).
    except (
        skops.io.exceptions.UntrustedTypesFoundException,
        zipfile.BadZipFile,
        OSError,
        ValueError,
    ) as error:
        raise DataError(
            f"{path}: not read, as it is no model that the train_forest rule saved ({error})"
        ) from None
    # An archive of other trusted types (another estimator, a dict of other keys) is no forest.
    with saved_contents(path, "forest", saved):
        model = saved["model"]
        if not isinstance(model, RandomForestClassifier):
            raise TypeError(f"its model is of type {type(model).__name__}, not a random forest")
        if saved["classes"] != model.classes_.tolist():
            raise ValueError(f"its classes {saved['classes']} are not its forest's")
        features = len(saved["features"])
        if features != model.n_features_in_:
            raise ValueError(f"its forest takes {model.n_features_in_} features, not {features}")
        model.set_params(n_jobs=threads)
    return saved


def fit(
    stores,
    split_table,
    dictionary,
    model_file,
    history_table,
    *,
    forest,
    labels,
    memory_mb,
    threads,
) -> None:
    """The train_forest rule: a forest of the `forest` settings on the training
    participants' windows in the feature stores `stores`, labelled under the `labels` settings
    with `dictionary`, selected on the validation ones, fitted on the rule's `threads`; saved with
    skops with what prediction needs, and its history. The features are held in memory whole
    (`memory_mb` is the rule's to size)."""
    label = labelling(dictionary, labels)
    x_train, training = set_features(stores, split_table, "train", label)
    x_validation, validation = set_features(stores, split_table, "validation", label)
    log.info(
        "training on %d windows, validating on %d, %d features",
        len(x_train),
        len(x_validation),
        x_train.shape[1],
    )
    model, history = fit_forest(
        x_train,
        training.label.values.astype(object),
        x_validation,
        validation.label.values.astype(object),
        options=forest.options,
        threads=threads,
    )
    history.to_csv(history_table, index=False)
    store = open_store(stores[0])
    skops.io.dump(
        {
            "model": model,
            "classes": model.classes_.tolist(),
            "windows": {name: store.attrs[name] for name in WINDOWS},
            "features": store.feature.values.tolist(),
            "labels": dataclasses.asdict(labels),
            "versions": versions(),
        },
        model_file,
    )


def load(model_file, device, threads) -> Loaded:
    """The forest as the train_forest rule saved it, predicting on `threads` threads (on the CPU,
    whatever the `device`), with the features of windows of the settings it was trained on (its
    `windows`)."""
    saved = load_forest(model_file, threads)
    model = saved["model"]
    with saved_contents(model_file, "forest", saved):
        # The feature stores' settings: their windows' and the names of their features.
        inputs = {
            **{name: saved["windows"][name] for name in WINDOWS},
            "feature": list(saved["features"]),
        }
        labels = Labels(**saved["labels"])

    def predict_set(stores, split_table, name, label, memory_mb):
        x, coords = set_features(stores, split_table, name, label)
        return coords, forest_probabilities(model, x)

    def predict_windows(acceleration):
        if inputs["feature"] != list(FEATURES):
            raise DataError(
                f"{model_file}: a forest of other features than spectrohar.cache.features "
                "computes now (retrain it: snakemake --cores 8 --forcerun train_forest)"
            )
        # A few windows at a time: their float64 intermediates stay small.
        features = [
            window_features(acceleration[start : start + BLOCK_WINDOWS], inputs["sample_rate"])
            for start in range(0, len(acceleration), BLOCK_WINDOWS)
        ]
        return forest_probabilities(model, np.concatenate(features))

    return Loaded(
        classes=saved["classes"],
        inputs=inputs,
        labels=labels,
        device="cpu",
        predict_set=predict_set,
        predict_windows=predict_windows,
    )
