"""Models over (channel, frequency, frame) spectrograms, by config name, and what training and
prediction share: running them, reading what torch saved, the windows of a split's set.

Adding a model is adding its module here and its name to MODELS.
"""

import pickle
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from spectrohar.cache import Spectrograms
from spectrohar.errors import DataError
from spectrohar.models.cnn import CNN

MODELS = {"cnn": CNN}


def build_model(name, n_classes, in_channels, **settings) -> nn.Module:
    """A model by its config name."""
    return MODELS[name](n_classes=n_classes, in_channels=in_channels, **settings)


def resolve_device(choice: str) -> torch.device:
    """'auto' picks CUDA when torch sees a GPU; 'cuda' without one is an error, not a fallback."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise DataError("train.device is 'cuda' but torch sees no CUDA device")
    return torch.device(choice)


@torch.no_grad()
def predict(model: nn.Module, windows, *, batch_size: int, device) -> torch.Tensor:
    """Logits of `windows` (a cache.Spectrograms) in store order and evaluation mode, on the CPU."""
    model.eval()
    return torch.cat([model(x.to(device)).cpu() for x, _ in windows.batches(batch_size)])


def load_saved(path, map_location=None):
    """What torch.save wrote at `path`, read as tensors and plain Python values only.

    Nothing else is unpickled, so a planted file runs no code: it is a DataError.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    # What torch raises for pickled objects other than tensors and plain values, and for a file
    # that is no torch file at all (empty, cut short).
    except (pickle.UnpicklingError, EOFError, RuntimeError):
        raise DataError(
            f"{path}: not read, as it is not a file of tensors and plain Python values that this "
            "pipeline writes (nothing else is ever unpickled)"
        ) from None


def split_participants(split_table, name) -> list[str]:
    """The participants in set `name` (train, validation or test) of the split table."""
    split = pd.read_csv(split_table)
    return sorted(split.participant[split.set == name])


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
