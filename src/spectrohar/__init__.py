"""Capture-24 activity recognition from cached STFT spectrograms."""

__version__ = "0.1.0"

from spectrohar.cache.stores import open_spectrograms  # noqa: E402  (modules import __version__)

__all__ = ["__version__", "open_spectrograms"]
