"""Training a torch network from the spectrogram cache: the epoch loop, with model selection and
early stopping on the validation participants only (the test participants are never read here),
and what training and prediction share: the device, a split's windows, reading what torch saved."""

import copy
import logging
import math
import os
import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import cohen_kappa_score, f1_score
from torch import nn
from tqdm.auto import tqdm

from spectrohar.cache.reader import Spectrograms
from spectrohar.errors import DataError
from spectrohar.evaluation.split import split_participants

log = logging.getLogger(__name__)

HIGHER_IS_BETTER = {"val_loss": False, "val_kappa": True, "val_macro_f1": True}


def resolve_device(choice: str) -> torch.device:
    """'auto' picks CUDA when torch sees a GPU; 'cuda' without one is an error, not a fallback."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise DataError("train.device is 'cuda' but torch sees no CUDA device")
    return torch.device(choice)


@torch.no_grad()
def logits(model: nn.Module, windows, *, batch_size: int, device) -> torch.Tensor:
    """Logits of `windows` (a cache.Spectrograms) in store order and evaluation mode, on the CPU."""
    model.eval()
    return torch.cat([model(x.to(device)).cpu() for x, _ in windows.batches(batch_size)])


def load_saved(path, map_location=None):
    """What torch.save wrote at `path`, read as tensors and plain Python values only.

    Nothing else is unpickled, so a planted file runs no code: it is a DataError, as is a file
    that is no whole torch file.
    """
    try:
        # torch warns of the pickle protocol of a file that is no torch file before refusing it.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    # What torch raises for pickled objects other than tensors and plain values, and for a file
    # that is not a pickle at all.
    except pickle.UnpicklingError:
        raise DataError(
            f"{path}: not read, as it is not a file of tensors and plain Python values that this "
            "pipeline writes (nothing else is ever unpickled)"
        ) from None
    # Empty (EOFError), cut short (RuntimeError, or OSError where a tensor's record is cut).
    except (EOFError, RuntimeError, OSError):
        raise DataError(
            f"{path}: not read, as it is no whole torch file (empty, cut short or damaged)"
        ) from None


# Of a rule's resources.mem_mb, the part that the splits it holds at once may take in memory
# (each split the same part of it); the rest is left to torch, the model and Python. Training holds
# the training and the validation split; prediction a set and, while it reads the next, the last.
CACHE_FRACTION = 0.5
SPLITS_HELD = 2


def split_windows(
    spectrograms, split_table, name, classes, labelling, *, memory_mb, threads
) -> Spectrograms:
    """The windows of set `name` of the split table in the stores `spectrograms`, labelled by
    `labelling`, with class codes in `classes` (None: their own labels), held in memory if they
    fit their part of `memory_mb`, read on `threads` threads; a set without windows is a
    DataError, not an empty loop."""
    participants = split_participants(split_table, name)
    windows = Spectrograms(
        spectrograms,
        participants,
        classes,
        labelling,
        memory_budget_mb=memory_mb * CACHE_FRACTION / SPLITS_HELD,
        threads=threads,
    )
    if not len(windows):
        where = (
            spectrograms[0]
            if len(spectrograms) == 1
            else f"the {len(spectrograms)} stores in {Path(spectrograms[0]).parent}"
        )
        raise DataError(
            f"{split_table}: the {name} participants {', '.join(participants) or '(none)'} "
            f"have no labelled windows in {where}"
        )
    return windows


def validation_scores(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Loss, kappa and macro F1 of logits against class codes (-1: a class the model lacks), as
    Python floats (the training state holds them and is read back as plain values only)."""
    predicted = logits.argmax(dim=1).numpy()
    return {
        "val_loss": F.cross_entropy(logits, y, ignore_index=-1).item(),
        "val_kappa": float(cohen_kappa_score(y.numpy(), predicted)),
        "val_macro_f1": float(f1_score(y.numpy(), predicted, average="macro", zero_division=0)),
    }


def fit_network(
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
        scores = validation_scores(
            logits(model, validation, batch_size=1024, device=device), validation.y
        )
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
    if not isinstance(saved, dict) or saved.pop("fingerprint", None) != fingerprint:
        return None
    return saved


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
