"""The tutorial's pyramid CNN over (channel, frequency, frame) spectrograms."""

from torch import nn


class ConvBNReLU(nn.Sequential):
    """Convolution, batch normalisation, ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class CNN(nn.Sequential):
    """`depth` stride-2 blocks, the width doubling each time (61x61 -> 31 -> 16 -> 8 -> 4 at the
    tutorial's depth 4 and width 32), then a 4x4 convolution to 1x1 and a linear layer.

    The average pool to 4x4 is an identity at the tutorial's sizes and lets other STFT settings
    (10 s windows: 61x19) or depths reach the last 4x4 convolution.
    """

    def __init__(self, n_classes, in_channels=3, width=32, depth=4):
        widths = [in_channels] + [width * 2**i for i in range(depth + 1)]
        kernels = [3, 3, *[4] * (depth - 2)][:depth]
        super().__init__(
            *[ConvBNReLU(widths[i], widths[i + 1], kernels[i], 2, 1) for i in range(depth)],
            nn.AdaptiveAvgPool2d(4),
            ConvBNReLU(widths[depth], widths[depth + 1], 4, 1, 0),
            nn.Conv2d(widths[depth + 1], n_classes, 1),
            nn.Flatten(),
        )
