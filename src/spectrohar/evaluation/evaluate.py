"""The evaluate rule: a saved model's predictions for the validation and the test participants,
one table, a row per window with its set, label, predicted class and each class's probability."""

from pathlib import Path

import numpy as np
import pandas as pd

from spectrohar.cache.stores import open_store
from spectrohar.errors import DataError
from spectrohar.evaluation.split import split_participants
from spectrohar.models import FAMILIES, Loaded
from spectrohar.sources.labels import labelled_windows, labelling

SETS = ("validation", "test")
# A predictions table's column of each class's probability: probability_<class>. The evaluate
# rule's tables and a recording's (prediction.predict) both hold them.
PROBABILITY = "probability_"


def probability_columns(classes, probabilities) -> dict[str, np.ndarray]:
    """The probability column of each of `classes` (in order) from (window, class)
    `probabilities`, by name."""
    return {f"{PROBABILITY}{cls}": probabilities[:, i] for i, cls in enumerate(classes)}


def table_classes(table) -> list[str]:
    """The classes of a predictions table, from its probability columns."""
    return [c.removeprefix(PROBABILITY) for c in table.columns if c.startswith(PROBABILITY)]


def prediction_table(name, coords, classes, probabilities) -> pd.DataFrame:
    """The rows of set `name`: each window of `coords` (participant, window_start, label), the
    most probable of `classes` and the probability of each."""
    classes = np.asarray(classes, dtype=object)
    return pd.DataFrame(
        {
            "set": name,
            "participant": coords.participant.values.astype(object),
            "window_start": coords.window_start.values,
            "label": coords.label.values.astype(object),
            "predicted": classes[probabilities.argmax(axis=1)],
            **probability_columns(classes, probabilities),
        }
    )


def _shown(value) -> str:
    """A setting's value as a sentence shows it: a list's items joined, no brackets."""
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def check_model(model: Loaded, family, model_file, stores, split_table, label, labels) -> None:
    """A DataError naming `model_file` where the model in it was trained on stores of other
    settings than `stores`, or on other classes than the training participants of the split
    table have in them under the `labels` settings (labelled by `label`): either way, its
    predictions for them would mean nothing."""
    retrain = f"retrain it: snakemake --cores 8 --forcerun train_{family}"
    classes = set()
    training = split_participants(split_table, "train")
    for path in stores:
        ds = open_store(path)
        for name, saved in model.inputs.items():
            found = ds.attrs.get(name)
            if found is None and name in ds.coords:  # the features' names are a coordinate
                found = ds[name].values.tolist()
            if found != saved:
                raise DataError(
                    f"{model_file}: a model trained on stores of {name} {_shown(saved)}, but "
                    f"{path} has {name} {_shown(found)} ({retrain})"
                )
        if set(training) & set(ds.participant.values):  # no other store's labels warn twice
            mine, label_of = labelled_windows(ds, training, label)
            classes.update(label_of[mine])
    if classes != set(model.classes):
        raise DataError(
            f"{model_file}: a model trained on the classes {_shown(sorted(model.classes))}, but "
            f"the training participants of {split_table} have the classes "
            f"{_shown(sorted(classes))} under labels.scheme {labels.scheme} in the stores in "
            f"{Path(stores[0]).parent} ({retrain})"
        )


def build(
    family,
    stores,
    split_table,
    dictionary,
    model_file,
    predictions,
    *,
    device,
    labels,
    memory_mb,
    threads,
) -> None:
    """The evaluate rule: the model of `family` saved at `model_file` on every validation and
    test window of its `stores`, labelled under the `labels` settings with `dictionary`, on
    `device` (train.device's choices) where the family runs on one, within the rule's
    `memory_mb`; one table."""
    model = FAMILIES[family].load(model_file, device, threads)
    label = labelling(dictionary, labels)
    check_model(model, family, model_file, stores, split_table, label, labels)
    tables = []
    for name in SETS:
        coords, probabilities = model.predict_set(stores, split_table, name, label, memory_mb)
        non_finite = ~np.isfinite(probabilities).all(axis=1)
        if non_finite.any():  # argmax would quietly predict the first class
            first = coords.isel(window=np.flatnonzero(non_finite)[0])
            raise DataError(
                f"{model_file}: gives non-finite probabilities for {non_finite.sum()} of "
                f"{len(probabilities)} {name} windows (the first: {first.participant.item()} at "
                f"{pd.Timestamp(first.window_start.item())}); check the stores with "
                "`spectrohar inspect`"
            )
        tables.append(prediction_table(name, coords, model.classes, probabilities))
    table = pd.concat(tables, ignore_index=True)
    table.attrs = {"model": family, "device": model.device}  # kept in the parquet file
    table.to_parquet(predictions, index=False)
