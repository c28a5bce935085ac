"""Models over (channel, frequency, frame) spectrograms, by config name, and running them.

Adding a model is adding its module here and its name to MODELS.
"""

import torch
from torch import nn

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
    """Logits of `windows` (a cache.Windows) in store order and evaluation mode, on the CPU."""
    model.eval()
    return torch.cat([model(x.to(device)).cpu() for x, _ in windows.batches(batch_size)])
