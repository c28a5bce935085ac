"""The CNN family: the tutorial's network trained on the spectrogram cache (the train rule's
`fit`), and a saved network loaded to predict on stores or on windows of acceleration (`load`)."""

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import torch

from spectrohar.cache.layout import AXES
from spectrohar.cache.spectrogram import stft_shape, window_spectrograms
from spectrohar.errors import DataError
from spectrohar.evaluation.split import split_participants
from spectrohar.models import Loaded, saved_contents
from spectrohar.models.network import CNN
from spectrohar.models.training import (
    fit_network,
    load_saved,
    logits,
    resolve_device,
    split_windows,
)
from spectrohar.settings import Labels
from spectrohar.sources.labels import labelling
from spectrohar.versions import versions

log = logging.getLogger(__name__)

# Windows per forward pass of a network.
BATCH_SIZE = 1024


def fit(
    stores,
    split_table,
    dictionary,
    model_file,
    history_table,
    *,
    cnn,
    train,
    labels,
    memory_mb,
    threads,
) -> None:
    """The train_cnn rule: a network of the `cnn` settings on the training participants'
    windows in the spectrogram stores `stores` under the `train` settings, labelled under
    the `labels` settings with `dictionary`, selected on the validation ones; the splits held in
    memory while they fit their part of the rule's `memory_mb` (training.CACHE_FRACTION), read on
    the rule's `threads`."""
    if train.deterministic:  # the same numbers twice on a GPU too, at the cost of slower kernels
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(train.deterministic)
    torch.backends.cudnn.benchmark = not train.deterministic
    label = labelling(dictionary, labels)
    training = split_windows(
        stores, split_table, "train", None, label, memory_mb=memory_mb, threads=threads
    )
    classes = training.classes
    if len(classes) < 2:
        raise DataError(
            f"{split_table}: the training participants have {len(classes)} classes under "
            f"labels.scheme {labels.scheme}"
        )
    validation = split_windows(
        stores,
        split_table,
        "validation",
        classes,
        label,
        memory_mb=memory_mb,
        threads=threads,
    )
    if not (validation.y >= 0).any():  # the validation loss would be 0/0
        raise DataError(
            f"{split_table}: the validation participants "
            f"{', '.join(split_participants(split_table, 'validation'))} have no windows of the "
            f"training classes {', '.join(classes)}"
        )
    device = resolve_device(train.device)
    log.info(
        "training on %d windows (%s), validating on %d, %d classes, device %s",
        len(training),
        "in memory" if training.in_memory else "streamed by chunks",
        len(validation),
        len(classes),
        device,
    )
    weight = None
    if train.class_weight == "balanced":  # each class weighs as much in the loss as any other
        counts = np.bincount(training.y.numpy(), minlength=len(classes))
        weight = torch.tensor(len(training) / (len(classes) * counts), dtype=torch.float32)
    torch.manual_seed(train.seed)
    shape = training.shape
    try:
        network = CNN(len(classes), shape[0], **cnn.options)
        network.eval()(torch.zeros(1, *shape))
    except (TypeError, RuntimeError) as error:
        raise DataError(f"config cnn {cnn.options} cannot take {shape} stores: {error}") from None
    network.to(device)
    fitting = {
        name: getattr(train, name)
        for name in (
            "max_epochs",
            "batch_size",
            "learning_rate",
            "patience",
            "monitor",
            "seed",
            "mixed_precision",
            "channels_last",
        )
    }
    # A state saved from other settings or other inputs is not resumed.
    inputs = [
        *(Path(store, "zarr.json").stat().st_mtime_ns for store in stores),
        Path(split_table).stat().st_mtime_ns,
        Path(dictionary).stat().st_mtime_ns,
    ]
    state_path = Path(model_file).with_name("train-state.pt")
    history, best_weights, best_epoch = fit_network(
        network,
        training,
        validation,
        device=device,
        class_weight=weight,
        state_path=state_path,
        fingerprint={
            **fitting,
            "model": dataclasses.asdict(cnn),
            "class_weight": train.class_weight,
            "labels": dataclasses.asdict(labels),
            "inputs": inputs,
        },
        **fitting,
    )
    history.to_csv(history_table, index=False)
    torch.save(
        {
            "model_settings": dataclasses.asdict(cnn),
            "weights": best_weights,
            "classes": classes,
            "in_channels": shape[0],
            "spectrogram": dict(training.attrs),
            "labels": dataclasses.asdict(labels),
            "best_epoch": best_epoch,
            "monitor": train.monitor,
            "device": str(device),
            "versions": versions(),
        },
        model_file,
    )
    state_path.unlink()


# The settings of the spectrogram stores a network was trained on that its inputs depend on: a
# store it predicts on must have the same, a recording's windows are made with them.
INPUTS = (
    "window_length_s",
    "window_step_s",
    "sample_rate",
    "channels",
    "n_fft",
    "hop_length",
    "window",
    "dtype",
)


def load(checkpoint, device, threads) -> Loaded:
    """The network as the train_cnn rule saved it, on `device` (train.device's choices), with the
    STFT of the spectrogram stores it was trained on (the checkpoint's `spectrogram`)."""
    device = resolve_device(device)
    saved = load_saved(checkpoint, map_location="cpu")
    with saved_contents(checkpoint, "cnn", saved), torch.no_grad():
        classes = list(saved["classes"])
        inputs = {name: saved["spectrogram"][name] for name in INPUTS}
        model = CNN(len(classes), saved["in_channels"], **saved["model_settings"]["options"])
        model.load_state_dict(saved["weights"])
        labels = Labels(**saved["labels"])
        # The network takes a window of the spectrograms its settings make.
        shape = stft_shape(
            round(inputs["window_length_s"] * inputs["sample_rate"]),
            n_fft=inputs["n_fft"],
            hop_length=inputs["hop_length"],
        )
        model.eval()(torch.zeros(1, len(inputs["channels"]), *shape))
    model.to(device)
    stft = {name: inputs[name] for name in ("channels", "n_fft", "hop_length", "window")}

    def predict_set(stores, split_table, name, label, memory_mb):
        windows = split_windows(
            stores, split_table, name, classes, label, memory_mb=memory_mb, threads=threads
        )
        output = logits(model, windows, batch_size=BATCH_SIZE, device=device)
        return windows.coords, output.softmax(dim=1).numpy()

    @torch.no_grad()
    def predict_windows(acceleration):
        batches = []
        for start in range(0, len(acceleration), BATCH_SIZE):
            # In the store's dtype, as training read them, then float32 as the model takes them.
            spectrograms = window_spectrograms(
                acceleration[start : start + BATCH_SIZE],
                axes=AXES,
                dtype=inputs["dtype"],
                **stft,
            )
            x = torch.from_numpy(spectrograms).to(device, torch.float32)
            batches.append(model(x).cpu())
        return torch.cat(batches).softmax(dim=1).numpy()

    return Loaded(
        classes=classes,
        inputs=inputs,
        labels=labels,
        device=str(device),
        predict_set=predict_set,
        predict_windows=predict_windows,
    )
