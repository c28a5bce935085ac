"""Training from the spectrogram cache; model selection and early stopping on the validation
participants only. The test participants are never read here."""

import copy
import dataclasses
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import cohen_kappa_score, f1_score
from tqdm.auto import tqdm

from spectrohar.errors import DataError
from spectrohar.labels import labelling
from spectrohar.models import (
    build_model,
    load_saved,
    predict,
    resolve_device,
    split_participants,
    split_windows,
)
from spectrohar.versions import versions

log = logging.getLogger(__name__)

HIGHER_IS_BETTER = {"val_loss": False, "val_kappa": True, "val_macro_f1": True}


def validation_scores(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Loss, kappa and macro F1 of logits against class codes (-1: a class the model lacks), as
    Python floats (the training state holds them and is read back as plain values only)."""
    predicted = logits.argmax(dim=1).numpy()
    return {
        "val_loss": F.cross_entropy(logits, y, ignore_index=-1).item(),
        "val_kappa": float(cohen_kappa_score(y.numpy(), predicted)),
        "val_macro_f1": float(f1_score(y.numpy(), predicted, average="macro", zero_division=0)),
    }


def fit(
    model,
    train,
    validation,
    *,
    max_epochs,
    batch_size,
    learning_rate,
    patience,
    monitor,
    device,
    seed,
    class_weight=None,
    mixed_precision=False,
    channels_last=False,
    state_path=None,
    fingerprint=None,
):
    """Adam on shuffled batches; returns (history, best weights, best epoch); the history's
    `selected` column marks the epoch whose weights were kept.

    With `state_path`, everything needed to go on (weights, optimiser, batch-order generator,
    history, best weights) is saved after every epoch, and a run finds a saved state with the
    same `fingerprint` and resumes after its last epoch, ending as an uninterrupted run would.

    An in-memory training split moves to the device once (float16 on a GPU) and its batches
    are indexed there; `mixed_precision` runs forward passes in float16 on a GPU (bfloat16 on a
    CPU) with loss scaling; `channels_last` lays convolutions out for tensor cores.

    A non-finite training or validation loss stops training with a DataError: the weights after
    it are no use.
    """
    rng = np.random.default_rng(seed)
    cuda = device.type == "cuda"
    train.to(device, torch.float16 if cuda else torch.float32)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scaler = torch.amp.GradScaler(device.type, enabled=mixed_precision and cuda)
    autocast = torch.autocast(
        device.type, dtype=torch.float16 if cuda else torch.bfloat16, enabled=mixed_precision
    )
    sign = 1 if HIGHER_IS_BETTER[monitor] else -1
    state = {"history": [], "best": -np.inf, "best_weights": None, "best_epoch": 0, "done": False}
    saved = _saved_state(state_path, fingerprint, device)
    if saved is not None:
        model.load_state_dict(saved.pop("weights"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        scaler.load_state_dict(saved.pop("scaler"))
        rng.bit_generator.state = saved.pop("rng")
        state = saved
        log.info("resuming after epoch %d from %s", len(state["history"]), state_path)
    weight = None if class_weight is None else class_weight.to(device)
    for epoch in range(len(state["history"]) + 1, max_epochs + 1):
        if state["done"]:
            break
        start = time.perf_counter()
        model.train()
        losses = []  # each batch's loss times its windows, on the device: no sync per batch
        batches = tqdm(
            train.batches(batch_size, rng),
            desc=f"epoch {epoch}",
            total=-(-len(train) // batch_size),
            mininterval=10,
        )
        for x, y in batches:
            if cuda and not x.is_cuda:
                x = x.pin_memory()  # streamed from the cache: copy while the GPU computes
            x = x.to(device, torch.float32, non_blocking=True, memory_format=memory_format)
            y = y.to(device, non_blocking=True)
            with autocast:
                loss = F.cross_entropy(model(x), y, weight=weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach().float() * len(y))
        losses = torch.stack(losses).cpu()  # the epoch's one wait for the device
        bad = torch.nonzero(~losses.isfinite()).flatten().tolist()
        if bad:
            raise _non_finite(
                f"training loss is {losses[bad[0]].item()} at epoch {epoch}, "
                f"batch {bad[0] + 1} (of {len(losses)})"
            )
        train_seconds = time.perf_counter() - start
        logits = predict(model, validation, batch_size=1024, device=device)
        scores = validation_scores(logits, validation.y)
        if not math.isfinite(scores["val_loss"]):
            raise _non_finite(f"validation loss is {scores['val_loss']} at epoch {epoch}")
        state["history"].append(
            {
                "epoch": epoch,
                "train_loss": losses.sum().item() / len(train),
                **scores,
                "seconds": time.perf_counter() - start,
                "windows_per_s": len(train) / train_seconds,
                "device": str(device),
            }
        )
        log.info("%s", state["history"][-1])
        if sign * scores[monitor] > state["best"]:
            state.update(best=sign * scores[monitor], best_epoch=epoch)
            state["best_weights"] = copy.deepcopy(model.state_dict())
        elif epoch - state["best_epoch"] >= patience:
            log.info("no better %s for %d epochs: stopping", monitor, patience)
            state["done"] = True
        if state_path is not None:
            _save_state(state_path, fingerprint, state, model, optimizer, scaler, rng)
    history = pd.DataFrame(state["history"])
    history["selected"] = history.epoch == state["best_epoch"]
    return history, state["best_weights"], state["best_epoch"]


def _saved_state(path, fingerprint, device):
    """The state saved at `path` by a run with the same fingerprint, its tensors on `device`, or
    None; a file that is no state this pipeline wrote is ignored with a warning."""
    if path is None or not Path(path).exists():
        return None
    try:
        saved = load_saved(path, map_location=device)
    except DataError as error:
        log.warning("%s; training starts fresh", error)
        return None
    return saved if saved.pop("fingerprint") == fingerprint else None


def _save_state(path, fingerprint, state, model, optimizer, scaler, rng) -> None:
    """Save atomically: a run killed while saving leaves the previous epoch's state."""
    partial = Path(f"{path}.partial")
    torch.save(
        {
            **state,
            "fingerprint": fingerprint,
            "weights": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng.bit_generator.state,
        },
        partial,
    )
    os.replace(partial, path)


def _non_finite(loss: str) -> DataError:
    """The error that stops training at a non-finite `loss` ("training loss is nan at ...")."""
    return DataError(
        f"{loss}: the spectrograms or the settings give non-finite values; check the cache with "
        "`spectrohar inspect` or lower train.learning_rate"
    )


def build(
    spectrograms,
    split_table,
    dictionary,
    checkpoint,
    history_table,
    *,
    model,
    train,
    labels,
    memory_mb,
    threads,
) -> None:
    """The train_cnn rule: the `model` family on the training participants' windows in the
    spectrogram stores `spectrograms` under the `train` settings, labelled under the `labels`
    settings with `dictionary`, selected on the validation ones; the splits held in memory
    while they fit their part of the rule's `memory_mb` (models.CACHE_FRACTION), read on the
    rule's `threads`."""
    if train.deterministic:  # the same numbers twice on a GPU too, at the cost of slower kernels
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(train.deterministic)
    torch.backends.cudnn.benchmark = not train.deterministic
    label = labelling(dictionary, labels)
    training = split_windows(
        spectrograms, split_table, "train", None, label, memory_mb=memory_mb, threads=threads
    )
    classes = training.classes
    if len(classes) < 2:
        raise DataError(
            f"{split_table}: the training participants have {len(classes)} classes under "
            f"labels.scheme {labels.scheme}"
        )
    validation = split_windows(
        spectrograms,
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
        network = build_model(model.name, len(classes), shape[0], **model.options)
        network.eval()(torch.zeros(1, *shape))
    except (TypeError, RuntimeError) as error:
        raise DataError(
            f"config {model.name} {model.options} cannot take {shape} spectrograms: {error}"
        ) from None
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
        *(Path(store, "zarr.json").stat().st_mtime_ns for store in spectrograms),
        Path(split_table).stat().st_mtime_ns,
        Path(dictionary).stat().st_mtime_ns,
    ]
    state_path = Path(checkpoint).with_name("train-state.pt")
    history, best_weights, best_epoch = fit(
        network,
        training,
        validation,
        device=device,
        class_weight=weight,
        state_path=state_path,
        fingerprint={
            **fitting,
            "model": dataclasses.asdict(model),
            "class_weight": train.class_weight,
            "labels": dataclasses.asdict(labels),
            "inputs": inputs,
        },
        **fitting,
    )
    history.to_csv(history_table, index=False)
    torch.save(
        {
            "model_settings": dataclasses.asdict(model),
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
        checkpoint,
    )
    state_path.unlink()
