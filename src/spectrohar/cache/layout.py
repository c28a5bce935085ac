"""The layouts of the pipeline's three stores, and the one constructor of each.

The window store (one per participant) holds acceleration (window, sample, axis) in g, with each
window's start, raw annotation and participant. A window whose annotation is NA is kept, with
annotation UNANNOTATED, for prediction; the labels give it none, so it is left out of training
and evaluation. The store's attributes say how the windows were cut, how many were kept (and how
many of those are unannotated) and how many dropped per reason, the rows read, the hours the
recording covers and the hours of it annotated, and in `time_zone` which clock `window_start`
follows. Every store gives its windows' length (`window_length_s`) and the step between
consecutive windows' starts (`window_step_s`, shorter than the length where windows overlap):
a stretch of windows one step apart is contiguous (the HMM's runs), and a window stands for one
step of time (the daily hours). The spectrogram store (one per participant too) holds log STFT
magnitudes (window, channel, frequency, frame), frequencies in Hz and frame centres in seconds
from the window start, each window's participant, start and raw annotation; its attributes give
the STFT's parameters.
The feature store (one per participant as well) holds hand-crafted features (window, feature),
named by its `feature` coordinate, with each window's participant, start and raw annotation. None
of them holds labels: the scheme is applied where the stores are read (`labels.labelling`), so a
relabel rebuilds no store. Stages and tests build stores only through these constructors, so a
store's names, units and dtypes are written down once, here.
"""

from collections.abc import Mapping

import numpy as np
import xarray as xr

from spectrohar.cache.stores import STRING

AXES = ("x", "y", "z")  # the accelerometer's axes, as the recordings name them
NORM = "norm"  # the channel of the vector magnitude over AXES
DROP_REASONS = ("incomplete", "nan", "infinite")
UNANNOTATED = ""  # the annotation of a kept window whose most common raw annotation is NA
NO_OFFSET = "as written (no offset)"  # time_zone of timestamps written without a zone offset
WINDOW_DIMS = ("window", "sample", "axis")
SPECTROGRAM_DIMS = ("window", "channel", "frequency", "frame")


def window_length(length_s) -> np.timedelta64:
    """A window's length of `length_s` seconds as a timedelta64[ns], to the nearest nanosecond."""
    return np.timedelta64(round(length_s * 1e9), "ns")


def window_dataset(
    acceleration,
    window_start,
    annotation,
    *,
    sample_rate,
    window_length_s,
    window_step_s,
    rows_read,
    hours_recorded,
    hours_annotated,
    windows_dropped: Mapping[str, int],
    **attrs,
) -> xr.Dataset:
    """The windows of one recording: (window, sample, axis) acceleration in g (kept lazy if it
    is a dask array), each window's start and annotation (UNANNOTATED where it has none).
    `rows_read` counts the file's rows, `hours_recorded` the time they cover and
    `hours_annotated` the part of it annotated; `windows_dropped` counts the windows dropped per
    reason of DROP_REASONS, a reason left out counting 0."""
    unknown = set(windows_dropped) - set(DROP_REASONS)
    if unknown:
        raise ValueError(f"no such drop reason: {sorted(unknown)} (reasons: {DROP_REASONS})")
    return xr.Dataset(
        {"acceleration": (WINDOW_DIMS, acceleration, {"units": "g"})},
        coords={
            "axis": np.asarray(AXES, dtype=STRING),
            "window_start": ("window", np.asarray(window_start, dtype="datetime64[ns]")),
            "annotation": ("window", np.asarray(annotation, dtype=STRING)),
        },
        attrs={
            "windows_kept": len(window_start),
            "windows_unannotated": int(
                np.count_nonzero(np.asarray(annotation, dtype=STRING) == UNANNOTATED)
            ),
            "sample_rate": sample_rate,
            "window_length_s": window_length_s,
            "window_step_s": window_step_s,
            "rows_read": rows_read,
            "hours_recorded": hours_recorded,
            "hours_annotated": hours_annotated,
            "windows_dropped": {r: int(windows_dropped.get(r, 0)) for r in DROP_REASONS},
            **attrs,
        },
    )


def participant_windows(windows: xr.Dataset, participant, source) -> xr.Dataset:
    """The window store of `participant`: `windows` with the participant on every window and,
    with the `source` they were read from, in the attributes."""
    every_window = np.full(windows.sizes["window"], participant, dtype=STRING)
    return windows.assign_coords(participant=("window", every_window)).assign_attrs(
        participant=participant, source=str(source)
    )


def spectrogram_dataset(
    spectrogram,
    *,
    channels,
    participant,
    window_start,
    annotation,
    n_fft,
    hop_length,
    window,
    sample_rate,
    window_length_s,
    window_step_s,
    **attrs,
) -> xr.Dataset:
    """(window, channel, frequency, frame) log STFT magnitudes (kept lazy if a dask array),
    each window's participant, start and raw annotation.

    The frequencies and frame times follow from the STFT's parameters: `n_fft // 2 + 1`
    frequencies up to sample_rate / 2, and each frame at its centre, `n_fft / 2` samples after
    its first, frames `hop_length` samples apart.
    """
    n_frequencies, n_frames = np.shape(spectrogram)[2:]
    if n_frequencies != n_fft // 2 + 1:
        raise ValueError(
            f"{n_frequencies} frequencies, but an n_fft of {n_fft} gives {n_fft // 2 + 1}"
        )
    frame = (np.arange(n_frames) * hop_length + n_fft / 2) / sample_rate
    return xr.Dataset(
        {"spectrogram": (SPECTROGRAM_DIMS, spectrogram)},
        coords={
            "channel": np.asarray(channels, dtype=STRING),
            "frequency": ("frequency", np.fft.rfftfreq(n_fft, d=1 / sample_rate), {"units": "Hz"}),
            "frame": (
                "frame",
                frame,
                {"units": "s", "long_name": "frame centre from window start"},
            ),
            "participant": ("window", np.asarray(participant, dtype=STRING)),
            "window_start": ("window", np.asarray(window_start, dtype="datetime64[ns]")),
            "annotation": ("window", np.asarray(annotation, dtype=STRING)),
        },
        attrs={
            "n_fft": n_fft,
            "hop_length": hop_length,
            "window": window,
            "channels": list(channels),
            "sample_rate": sample_rate,
            "window_length_s": window_length_s,
            "window_step_s": window_step_s,
            **attrs,
        },
    )


def feature_dataset(
    features,
    names,
    *,
    participant,
    window_start,
    annotation,
    sample_rate,
    window_length_s,
    window_step_s,
    **attrs,
) -> xr.Dataset:
    """(window, feature) features of windows (kept lazy if a dask array), each named in `names`,
    with each window's participant, start and raw annotation; `attrs` say how they were made."""
    if np.shape(features)[1] != len(names):
        raise ValueError(f"{np.shape(features)[1]} features, but {len(names)} names")
    return xr.Dataset(
        {"features": (("window", "feature"), features)},
        coords={
            "feature": np.asarray(names, dtype=STRING),
            "participant": ("window", np.asarray(participant, dtype=STRING)),
            "window_start": ("window", np.asarray(window_start, dtype="datetime64[ns]")),
            "annotation": ("window", np.asarray(annotation, dtype=STRING)),
        },
        attrs={
            "sample_rate": sample_rate,
            "window_length_s": window_length_s,
            "window_step_s": window_step_s,
            **attrs,
        },
    )
