"""Capture-24 activity recognition from cached STFT spectrograms."""

__version__ = "0.1.0"
