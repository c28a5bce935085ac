"""The selected model's predictions for the validation and the test participants: one table, a
row per window with its set, label, predicted class and each class's probability."""

import numpy as np
import pandas as pd

from spectrohar.errors import DataError
from spectrohar.labels import labelling
from spectrohar.models import (
    MODELS,
    build_model,
    load_saved,
    predict,
    resolve_device,
    split_windows,
)

SETS = ("validation", "test")


def network(checkpoint, device):
    """A torch network of models.MODELS as the train rule saved it: its classes, and a function
    from a set's windows (read from the cache) to their class probabilities."""
    saved = load_saved(checkpoint, map_location="cpu")
    settings = saved["model_settings"]
    model = build_model(
        settings["name"], len(saved["classes"]), saved["in_channels"], **settings["options"]
    )
    model.load_state_dict(saved["weights"])
    model.to(device)

    def probabilities_of(windows) -> np.ndarray:
        return predict(model, windows, batch_size=1024, device=device).softmax(dim=1).numpy()

    return saved["classes"], probabilities_of


# How the model of each config model.name is loaded, by its family: every torch network alike.
# A model of another family brings its own loader, with the same arguments and result.
LOADERS = dict.fromkeys(MODELS, network)


def prediction_table(name, coords, classes, probabilities) -> pd.DataFrame:
    """The rows of set `name`: each window of `coords` (participant, window_start, label), the
    most probable of `classes` and the probability of each."""
    classes = np.asarray(classes, dtype=object)
    table = pd.DataFrame(
        {
            "set": name,
            "participant": coords.participant.values.astype(object),
            "window_start": coords.window_start.values,
            "label": coords.label.values.astype(object),
            "predicted": classes[probabilities.argmax(axis=1)],
        }
    )
    for i, cls in enumerate(classes):
        table[f"probability_{cls}"] = probabilities[:, i]
    return table


def build(
    spectrograms,
    split_table,
    dictionary,
    checkpoint,
    predictions,
    *,
    model,
    train,
    labels,
    memory_mb,
) -> None:
    """The predict rule: the `model` saved at `checkpoint` on every validation and test window
    of the spectrogram stores `spectrograms`, labelled under the `labels` settings with
    `dictionary`, on the `train` settings' device, within the rule's `memory_mb`; one table."""
    device = resolve_device(train.device)
    classes, probabilities_of = LOADERS[model.name](checkpoint, device)
    label = labelling(dictionary, labels)
    tables = []
    for name in SETS:
        windows = split_windows(
            spectrograms, split_table, name, classes, label, memory_mb=memory_mb
        )
        probabilities = probabilities_of(windows)
        non_finite = ~np.isfinite(probabilities).all(axis=1)
        if non_finite.any():  # argmax would quietly predict the first class
            bad = np.flatnonzero(non_finite)[0]
            first = windows.coords.isel(window=bad)
            raise DataError(
                f"{windows.paths[windows.store[bad]]}: the model in {checkpoint} gives "
                f"non-finite probabilities for {non_finite.sum()} of {len(windows)} {name} "
                "windows (the first: "
                f"{first.participant.item()} at {pd.Timestamp(first.window_start.item())}); "
                "check the store with `spectrohar inspect`"
            )
        tables.append(prediction_table(name, windows.coords, classes, probabilities))
    table = pd.concat(tables, ignore_index=True)
    table.attrs = {"model": model.name, "device": str(device)}  # kept in the parquet file
    table.to_parquet(predictions, index=False)
