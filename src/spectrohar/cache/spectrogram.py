"""A participant's window store -> its chunked zarr store of log-magnitude STFT spectrograms.

The STFT is `scipy.signal.stft`'s (scaled by 1/sum(window), no boundary extension or padding:
the tutorial's 120-sample Hann segments every 48 samples turn 3000 samples into 61 frequencies x
61 frames), computed as one float32 rfft over strided frames, with dask over chunks of windows,
and stored as (window, channel, frequency, frame).
"""

import functools
import logging

import dask
import dask.array as da
import numpy as np
import scipy.fft
import scipy.signal
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view

from spectrohar import __version__
from spectrohar.cache.layout import NORM, spectrogram_dataset
from spectrohar.cache.stores import open_store, reading, write_dataset

log = logging.getLogger(__name__)

LOG_OFFSET = 1e-16  # the tutorial's: keeps log finite where the magnitude is exactly zero
SCALING = "scipy.signal.stft (1/sum(window)), log(|Z| + 1e-16)"
SUB_BATCH = 16


def log_stft(signal, *, n_fft, hop_length, window="hann") -> np.ndarray:
    """log(|STFT| + 1e-16) of the last axis of `signal`, as float32: (..., frequency, frame)."""
    taper = scipy.signal.get_window(window, n_fft).astype(np.float32)
    frames = sliding_window_view(np.asarray(signal, dtype=np.float32), n_fft, axis=-1)
    spectrum = np.abs(scipy.fft.rfft(frames[..., ::hop_length, :] * (taper / taper.sum())))
    np.log(np.add(spectrum, LOG_OFFSET, out=spectrum), out=spectrum)
    return np.ascontiguousarray(spectrum.swapaxes(-1, -2))


def channel_signals(acceleration, axes, channels) -> np.ndarray:
    """(window, sample, axis) acceleration whose axes are named `axes` -> (window, channel,
    sample) signals of `channels`, each an axis by name or NORM, the vector magnitude."""
    axes = list(axes)
    return np.stack(
        [
            np.linalg.norm(acceleration, axis=-1)
            if name == NORM
            else acceleration[..., axes.index(name)]
            for name in channels
        ],
        axis=1,
    )


def stft_shape(window_samples, *, n_fft, hop_length) -> tuple[int, int]:
    """(frequencies, frames) of one window's STFT."""
    return n_fft // 2 + 1, (window_samples - n_fft) // hop_length + 1


def window_spectrograms(
    acceleration, *, axes, channels, n_fft, hop_length, window, dtype
) -> np.ndarray:
    """(window, sample, axis) acceleration whose axes are named `axes` -> (window, channel,
    frequency, frame) log STFT of `channels`.

    A few windows at a time, so that the frames and spectra in flight stay in the CPU's cache.
    """
    n_freq, n_frames = stft_shape(acceleration.shape[1], n_fft=n_fft, hop_length=hop_length)
    out = np.empty((len(acceleration), len(channels), n_freq, n_frames), dtype=dtype)
    for start in range(0, len(acceleration), SUB_BATCH):
        signals = channel_signals(acceleration[start : start + SUB_BATCH], axes, channels)
        out[start : start + SUB_BATCH] = log_stft(
            signals, n_fft=n_fft, hop_length=hop_length, window=window
        )
    return out


def lazy_spectrograms(
    windows: xr.Dataset, *, channels, n_fft, hop_length, window, dtype
) -> da.Array:
    """The (window, channel, frequency, frame) log STFT of a window Dataset's acceleration as a
    dask array, one task per chunk of windows."""
    n_freq, n_frames = stft_shape(windows.sizes["sample"], n_fft=n_fft, hop_length=hop_length)
    acceleration = windows.acceleration.data
    stft = {"n_fft": n_fft, "hop_length": hop_length, "window": window}
    return da.map_blocks(
        functools.partial(
            window_spectrograms,
            axes=windows.axis.values.tolist(),
            channels=channels,
            dtype=dtype,
            **stft,
        ),
        acceleration,
        dtype=np.dtype(dtype),
        meta=np.empty((0, 0, 0, 0), dtype=dtype),
        drop_axis=[1, 2],
        new_axis=[1, 2, 3],
        chunks=(acceleration.chunks[0], (len(channels),), (n_freq,), (n_frames,)),
    )


def build(window_store, store, *, spectrogram, threads) -> None:
    """The spectrogram rule: one participant's window store -> its spectrogram store, made under
    the `spectrogram` settings with dask on `threads` threads. Every window is kept with its raw
    annotation: labels are applied where the cache is read."""
    chunk_windows, channels = spectrogram.chunk_windows, spectrogram.channels
    # The window store's chunking is its own: this store is chunked by chunk_windows.
    windows = open_store(window_store).drop_encoding().chunk({"window": chunk_windows})
    stft = {
        "n_fft": spectrogram.n_fft,
        "hop_length": spectrogram.hop_length,
        "window": spectrogram.window,
    }
    ds = spectrogram_dataset(
        lazy_spectrograms(windows, channels=channels, dtype=spectrogram.dtype, **stft),
        channels=channels,
        participant=windows.participant,
        window_start=windows.window_start,
        annotation=windows.annotation,
        sample_rate=windows.attrs["sample_rate"],
        window_length_s=windows.attrs["window_length_s"],
        window_step_s=windows.attrs["window_step_s"],
        scaling=SCALING,
        dtype=spectrogram.dtype,  # what a model trained on the store was fed, rounding included
        spectrohar_version=__version__,
        **stft,
    ).chunk({"window": chunk_windows})  # the window coordinates too, as the spectrograms
    with dask.config.set(scheduler="threads", num_workers=threads), reading(window_store):
        write_dataset(ds, store, chunks={"spectrogram": (chunk_windows, *ds.spectrogram.shape[1:])})
    log.info("%d windows -> %s %s", ds.sizes["window"], dict(ds.spectrogram.sizes), store)
