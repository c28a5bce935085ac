"""The pipeline's saved models, loaded to predict: the evaluate rule's predictions for the
validation and the test participants (one table, a row per window with its set, label,
predicted class and each class's probability), and the windows of new recordings
(spectrohar.recordings)."""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from spectrohar.errors import DataError
from spectrohar.features import BLOCK_WINDOWS, FEATURES, window_features
from spectrohar.labels import labelling
from spectrohar.layout import AXES
from spectrohar.models import build_model, load_saved, predict, resolve_device, split_windows
from spectrohar.models.forest import forest_probabilities, load_forest, set_features
from spectrohar.settings import Labels
from spectrohar.spectrogram import window_spectrograms

SETS = ("validation", "test")


# Windows per forward pass of a network.
BATCH_SIZE = 1024


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A saved model: its `classes`, the windows it takes (`window_length_s` long, sampled at
    `sample_rate` Hz), the `labels` settings it was trained under, and two ways to predict.
    `predict_set(stores, split_table, name, labelling, memory_mb)` reads set `name` of the split
    table from the family's stores and gives the windows' coordinates and class probabilities;
    `predict_windows(acceleration)` gives the class probabilities of (window, sample, axis)
    acceleration in g, axes in layout.AXES order, computing the model's inputs the way its
    stores were made."""

    classes: list
    window_length_s: float
    sample_rate: float
    labels: Labels
    predict_set: Callable
    predict_windows: Callable


def network(checkpoint, device, threads) -> Loaded:
    """A torch network of models.MODELS as the train rule saved it, with the STFT of the
    spectrogram stores it was trained on (the checkpoint's `spectrogram`)."""
    saved = load_saved(checkpoint, map_location="cpu")
    settings = saved["model_settings"]
    model = build_model(
        settings["name"], len(saved["classes"]), saved["in_channels"], **settings["options"]
    )
    model.load_state_dict(saved["weights"])
    model.to(device).eval()
    stft = saved["spectrogram"]
    inputs = {name: stft[name] for name in ("channels", "n_fft", "hop_length", "window")}

    def predict_set(stores, split_table, name, label, memory_mb):
        windows = split_windows(
            stores, split_table, name, saved["classes"], label, memory_mb=memory_mb, threads=threads
        )
        logits = predict(model, windows, batch_size=BATCH_SIZE, device=device)
        return windows.coords, logits.softmax(dim=1).numpy()

    @torch.no_grad()
    def predict_windows(acceleration):
        logits = []
        for start in range(0, len(acceleration), BATCH_SIZE):
            # In the store's dtype, as training read them, then float32 as the model takes them.
            spectrograms = window_spectrograms(
                acceleration[start : start + BATCH_SIZE], axes=AXES, dtype=stft["dtype"], **inputs
            )
            x = torch.from_numpy(spectrograms).to(device, torch.float32)
            logits.append(model(x).cpu())
        return torch.cat(logits).softmax(dim=1).numpy()

    return Loaded(
        classes=list(saved["classes"]),
        window_length_s=stft["window_length_s"],
        sample_rate=stft["sample_rate"],
        labels=Labels(**saved["labels"]),
        predict_set=predict_set,
        predict_windows=predict_windows,
    )


def forest(model_file, device, threads) -> Loaded:
    """The forest as the train_forest rule saved it, with the features of windows of the
    settings it was trained on (its `windows`)."""
    saved = load_forest(model_file, threads)
    model, windows = saved["model"], saved["windows"]

    def predict_set(stores, split_table, name, label, memory_mb):
        x, coords = set_features(stores, split_table, name, label)
        return coords, forest_probabilities(model, x)

    def predict_windows(acceleration):
        if saved["features"] != list(FEATURES):
            raise DataError(
                f"{model_file}: a forest of other features than spectrohar.features computes "
                "now (retrain it: snakemake --cores 8 --forcerun train_forest)"
            )
        # A few windows at a time: their float64 intermediates stay small.
        features = [
            window_features(acceleration[start : start + BLOCK_WINDOWS], windows["sample_rate"])
            for start in range(0, len(acceleration), BLOCK_WINDOWS)
        ]
        return forest_probabilities(model, np.concatenate(features))

    return Loaded(
        classes=saved["classes"],
        window_length_s=windows["window_length_s"],
        sample_rate=windows["sample_rate"],
        labels=Labels(**saved["labels"]),
        predict_set=predict_set,
        predict_windows=predict_windows,
    )


# How a model of each family is loaded (model file, device, threads -> Loaded), and the family
# of a model file by its suffix (model.pt, model.skops).
LOADERS = {"cnn": network, "forest": forest}
FAMILIES = {".pt": "cnn", ".skops": "forest"}


def load_model(model_file, device, threads) -> Loaded:
    """The model saved at `model_file` (model.pt or model.skops), by its suffix."""
    family = FAMILIES.get(Path(model_file).suffix)
    if family is None:
        raise DataError(
            f"{model_file}: is no model file of this pipeline (a model.pt or model.skops that "
            "its train rules save)"
        )
    return LOADERS[family](model_file, device, threads)


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
    family,
    stores,
    split_table,
    dictionary,
    model_file,
    predictions,
    *,
    train,
    labels,
    memory_mb,
    threads,
) -> None:
    """The predict rule: the model of `family` saved at `model_file` on every validation and
    test window of its `stores`, labelled under the `labels` settings with `dictionary`, on the
    `train` settings' device, within the rule's `memory_mb`; one table."""
    device = resolve_device(train.device)
    model = LOADERS[family](model_file, device, threads)
    label = labelling(dictionary, labels)
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
    table.attrs = {"model": family, "device": str(device)}  # kept in the parquet file
    table.to_parquet(predictions, index=False)
