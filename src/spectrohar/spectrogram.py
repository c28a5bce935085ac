"""Window stores -> one chunked zarr store of log-magnitude STFT spectrograms.

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
from spectrohar.labels import map_labels, read_dictionary
from spectrohar.stores import STRING, open_store, reading, write_dataset
from spectrohar.windows import AXES

log = logging.getLogger(__name__)

LOG_OFFSET = 1e-16  # the tutorial's: keeps log finite where the magnitude is exactly zero
SUB_BATCH = 16


def log_stft(signal, *, n_fft, hop_length, window="hann") -> np.ndarray:
    """log(|STFT| + 1e-16) of the last axis, as float32: (..., frequency, frame)."""
    taper = scipy.signal.get_window(window, n_fft).astype(np.float32)
    frames = sliding_window_view(np.asarray(signal, dtype=np.float32), n_fft, axis=-1)
    spectrum = np.abs(scipy.fft.rfft(frames[..., ::hop_length, :] * (taper / taper.sum())))
    np.log(np.add(spectrum, LOG_OFFSET, out=spectrum), out=spectrum)
    return np.ascontiguousarray(spectrum.swapaxes(-1, -2))


def channel_signals(acceleration, channels) -> np.ndarray:
    """(window, sample, axis) acceleration -> (window, channel, sample) signals; 'norm' is the
    vector magnitude."""
    signals = {axis: acceleration[..., i] for i, axis in enumerate(AXES)}
    if "norm" in channels:
        signals["norm"] = np.linalg.norm(acceleration, axis=-1)
    return np.stack([signals[name] for name in channels], axis=1)


def stft_shape(window_samples, *, n_fft, hop_length) -> tuple[int, int]:
    """(frequencies, frames) of one window's STFT."""
    return n_fft // 2 + 1, (window_samples - n_fft) // hop_length + 1


def spectrograms(acceleration, *, channels, n_fft, hop_length, window, dtype) -> np.ndarray:
    """(window, sample, axis) acceleration -> (window, channel, frequency, frame) log STFT.

    A few windows at a time, so that the frames and spectra in flight stay in the CPU's cache.
    """
    n_freq, n_frames = stft_shape(acceleration.shape[1], n_fft=n_fft, hop_length=hop_length)
    out = np.empty((len(acceleration), len(channels), n_freq, n_frames), dtype=dtype)
    for start in range(0, len(acceleration), SUB_BATCH):
        signals = channel_signals(acceleration[start : start + SUB_BATCH], channels)
        out[start : start + SUB_BATCH] = log_stft(
            signals, n_fft=n_fft, hop_length=hop_length, window=window
        )
    return out


def compute(windows: xr.Dataset, *, n_fft, hop_length, window, channels, dtype) -> xr.Dataset:
    """Lazy spectrograms of a (dask-backed) window dataset, with named, self-describing axes."""
    sample_rate = windows.attrs["sample_rate"]
    n_freq, n_frames = stft_shape(windows.sizes["sample"], n_fft=n_fft, hop_length=hop_length)
    acceleration = windows.acceleration.data
    stft = {"n_fft": n_fft, "hop_length": hop_length, "window": window}
    spectrogram = da.map_blocks(
        functools.partial(spectrograms, channels=channels, dtype=dtype, **stft),
        acceleration,
        dtype=np.dtype(dtype),
        meta=np.empty((0, 0, 0, 0), dtype=dtype),
        drop_axis=[1, 2],
        new_axis=[1, 2, 3],
        chunks=(acceleration.chunks[0], (len(channels),), (n_freq,), (n_frames,)),
    )
    frequency = np.fft.rfftfreq(n_fft, d=1 / sample_rate)
    frame = (np.arange(n_frames) * hop_length + n_fft / 2) / sample_rate
    return xr.Dataset(
        {"spectrogram": (("window", "channel", "frequency", "frame"), spectrogram)},
        coords={
            "channel": np.asarray(channels, dtype=STRING),
            "frequency": ("frequency", frequency, {"units": "Hz"}),
            "frame": (
                "frame",
                frame,
                {"units": "s", "long_name": "frame centre from window start"},
            ),
            **{name: coord for name, coord in windows.coords.items() if coord.dims == ("window",)},
        },
        attrs={
            "n_fft": n_fft,
            "hop_length": hop_length,
            "window": window,
            "channels": list(channels),
            "scaling": "scipy.signal.stft (1/sum(window)), log(|Z| + 1e-16)",
            "sample_rate": sample_rate,
            "window_length_s": windows.attrs["window_length_s"],
        },
    )


def build(
    window_stores,
    store,
    dictionary,
    *,
    label_scheme,
    unknown,
    n_fft,
    hop_length,
    window,
    channels,
    chunk_windows,
    dtype,
    threads,
) -> None:
    """The spectrogram rule: every participant's window store -> one spectrogram store."""
    parts = [open_store(path) for path in window_stores]
    # The window stores' chunking is theirs: this store is chunked by chunk_windows.
    windows = xr.concat(parts, dim="window", combine_attrs="drop_conflicts").drop_encoding()
    windows = windows.assign_coords(
        {name: windows[name].load() for name in ("participant", "window_start", "annotation")}
    )
    labels, dropped = map_labels(
        windows.annotation.values, read_dictionary(dictionary), label_scheme, unknown=unknown
    )
    if dropped:
        log.warning("dropped windows of annotations missing from %s: %s", dictionary, dropped)
    keep = np.array([label is not None for label in labels], dtype=bool)
    if not keep.all():  # a take over every window would copy them all
        windows = windows.isel(window=np.flatnonzero(keep))
    windows = windows.chunk({"window": chunk_windows})
    windows = windows.assign_coords(label=("window", np.asarray(labels[keep], dtype=STRING)))
    ds = compute(
        windows, n_fft=n_fft, hop_length=hop_length, window=window, channels=channels, dtype=dtype
    )
    ds.attrs.update(
        label_scheme=label_scheme,
        windows_dropped_unknown_annotation=dropped,
        spectrohar_version=__version__,
    )
    with dask.config.set(scheduler="threads", num_workers=threads), reading(*window_stores):
        write_dataset(ds, store, chunks={"spectrogram": (chunk_windows, *ds.spectrogram.shape[1:])})
    log.info(
        "%d windows of %d participants -> %s %s",
        ds.sizes["window"],
        len(parts),
        dict(ds.spectrogram.sizes),
        store,
    )
