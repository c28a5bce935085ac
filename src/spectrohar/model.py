"""Models over (channel, frequency, frame) spectrograms. Add one by adding a class and a name."""

import torch
from torch import nn

from spectrohar.errors import DataError


class ConvBNReLU(nn.Sequential):
    """Convolution, batch normalisation, ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class CNN(nn.Sequential):
    """The tutorial's pyramid CNN: 61x61 -> 31 -> 16 -> 8 -> 4 -> 1, width doubling each step.

    The average pool to 4x4 is an identity at 61x61 and lets other STFT settings (10 s windows:
    61x18) reach the last 4x4 convolution.
    """

    def __init__(self, n_classes, in_channels=3, width=32):
        super().__init__(
            ConvBNReLU(in_channels, width, 3, 2, 1),
            ConvBNReLU(width, width * 2, 3, 2, 1),
            ConvBNReLU(width * 2, width * 4, 4, 2, 1),
            ConvBNReLU(width * 4, width * 8, 4, 2, 1),
            nn.AdaptiveAvgPool2d(4),
            ConvBNReLU(width * 8, width * 16, 4, 1, 0),
            nn.Conv2d(width * 16, n_classes, 1),
            nn.Flatten(),
        )


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
