"""Reading the spectrogram cache: the windows of chosen participants, as tensors."""

import numpy as np
import pandas as pd
import torch
import xarray as xr


def select(spectrograms: xr.Dataset, participants) -> xr.Dataset:
    """The windows of `participants`, in store order."""
    mine = np.isin(spectrograms.participant.values, list(participants))
    return spectrograms.isel(window=np.flatnonzero(mine))


def as_tensors(spectrograms: xr.Dataset, classes) -> tuple[torch.Tensor, torch.Tensor]:
    """(window, channel, frequency, frame) float32 spectrograms, loaded, and their class codes in
    `classes` (-1 for a label outside them)."""
    codes = pd.Categorical(spectrograms.label.values, categories=classes).codes
    x = torch.from_numpy(spectrograms.spectrogram.values)
    return x, torch.from_numpy(codes.astype(np.int64))
