"""Hand-crafted features of each window, as the Capture-24 benchmark's random forest uses, and a
participant's window store -> its feature store (window, feature).

Every feature is a function of one window's (sample, axis) acceleration in g and the sample
rate, computed for many windows at once; FEATURES names and describes each, in column order.
The spectrum is Welch's over 3 s Hann segments every 1 s (the benchmark's), each segment's mean
removed, so gravity does not mask movement; the peaks are counted in the magnitude band-passed
to 0.6-5 Hz (the band of gait) with the benchmark's minimum spacing and prominence.
"""

import functools
import logging

import dask
import dask.array as da
import numpy as np
import scipy.signal
import scipy.stats

from spectrohar import __version__
from spectrohar.cache.layout import AXES, NORM, feature_dataset
from spectrohar.cache.spectrogram import channel_signals
from spectrohar.cache.stores import open_store, reading, write_dataset
from spectrohar.errors import DataError

log = logging.getLogger(__name__)

# Variation below this counts as none: far below what accelerometers resolve (milli-g), far above
# float64 rounding near 1 g (1e-16 g), so a still window's correlations and spectral peaks come
# out as defined values rather than as ratios of rounding errors.
STILL_G = 1e-6
SEGMENT_S, SEGMENT_STEP_S = 3, 1  # Welch segments of 3 s every 1 s (2 s overlap)
GAIT_BAND_HZ = (0.6, 5.0)
GAIT_FILTER_ORDER = 10  # the benchmark's Butterworth, run forwards and backwards
PEAK_DISTANCE_S = 0.2  # the benchmark's: at most five steps a second
PEAK_PROMINENCE_G = 0.25  # the benchmark's
BLOCK_WINDOWS = 256  # windows per dask task: a task's float64 intermediates stay near 100 MB

SIGNALS = {**{axis: f"the {axis} axis" for axis in AXES}, NORM: "the vector magnitude |a|"}
QUANTILES = (10, 25, 50, 75, 90)
STATISTICS = {
    "mean": "mean",
    "std": "standard deviation",
    **{f"q{q}": f"{q}th percentile" for q in QUANTILES},
    "range": "maximum minus minimum",
}
AXIS_PAIRS = ((0, 1), (1, 2), (2, 0))

FEATURES = {
    **{
        f"{signal}_{statistic}": f"{text} of {signal_text} (g)"
        for signal, signal_text in SIGNALS.items()
        for statistic, text in STATISTICS.items()
    },
    **{
        f"corr_{AXES[i]}{AXES[j]}": f"Pearson correlation of the {AXES[i]} and {AXES[j]} axes "
        f"(0 where either varies by less than {STILL_G} g)"
        for i, j in AXIS_PAIRS
    },
    "f1": "frequency of the highest peak of the magnitude's Welch spectrum (Hz; 0: no peak)",
    "p1": "power at f1 (g², the mean square of that component; 0: no peak)",
    "f2": "frequency of the second highest spectral peak of the magnitude (Hz; f1 if one peak)",
    "p2": "power at f2 (g²; p1 if one peak)",
    "spectral_entropy": "Shannon entropy of the magnitude's Welch spectrum over log(frequencies):"
    " 0: all power at one frequency, 1: a flat (or empty) spectrum",
    "autocorr_1s": "Pearson correlation of the magnitude with itself 1 s later (0 if still)",
    "peaks": f"number of peaks of the magnitude band-passed to {GAIT_BAND_HZ[0]}-"
    f"{GAIT_BAND_HZ[1]} Hz, at least {PEAK_DISTANCE_S} s apart with prominence "
    f">= {PEAK_PROMINENCE_G} g",
    "peak_prominence": "mean prominence of those peaks (g; 0: no peak)",
    **{
        f"angle_{axis}": f"mean of arctan({axis} / |other two axes|): when still, the {axis} "
        "axis's angle above the horizontal (degrees; +90: pointing up)"
        for axis in AXES
    },
}


def window_features(acceleration, sample_rate) -> np.ndarray:
    """(window, sample, axis) acceleration in g, axes in AXES order -> (window, feature) float32
    features in FEATURES order."""
    acceleration = np.asarray(acceleration, dtype=np.float64)
    if acceleration.shape[1] < SEGMENT_S * sample_rate:
        raise ValueError(
            f"windows of {acceleration.shape[1]} samples at {sample_rate} Hz: the features need "
            f"at least {SEGMENT_S} s (one spectral segment)"
        )
    signals = channel_signals(acceleration, AXES, SIGNALS)  # (window, signal, sample)
    magnitude = signals[:, -1]
    columns = {
        **signal_statistics(signals),
        **{
            f"corr_{AXES[i]}{AXES[j]}": correlation(acceleration[..., i], acceleration[..., j])
            for i, j in AXIS_PAIRS
        },
        **spectral_features(magnitude, sample_rate),
        "autocorr_1s": correlation(
            magnitude[:, : -round(sample_rate)], magnitude[:, round(sample_rate) :]
        ),
        **peak_features(magnitude, sample_rate),
        **gravity_angles(acceleration),
    }
    return np.stack([columns[name] for name in FEATURES], axis=-1).astype(np.float32)


def signal_statistics(signals) -> dict[str, np.ndarray]:
    """STATISTICS of each of the (window, signal, sample) `signals` of SIGNALS, by feature name."""
    quantiles = np.percentile(signals, QUANTILES, axis=-1)  # (quantile, window, signal)
    values = {
        "mean": signals.mean(axis=-1),
        "std": signals.std(axis=-1),
        **{f"q{q}": quantile for q, quantile in zip(QUANTILES, quantiles, strict=True)},
        "range": np.ptp(signals, axis=-1),
    }
    return {
        f"{signal}_{statistic}": values[statistic][:, i]
        for i, signal in enumerate(SIGNALS)
        for statistic in STATISTICS
    }


def correlation(a, b) -> np.ndarray:
    """Pearson correlation of each row of `a` with the same row of `b`, 0 where either varies by
    less than STILL_G (it is undefined for a constant)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    std_a, std_b = np.sqrt((a * a).mean(axis=-1)), np.sqrt((b * b).mean(axis=-1))
    varies = (std_a >= STILL_G) & (std_b >= STILL_G)
    covariance = (a * b).mean(axis=-1)
    return np.divide(covariance, std_a * std_b, out=np.zeros_like(covariance), where=varies)


def spectral_features(magnitude, sample_rate) -> dict[str, np.ndarray]:
    """f1, p1, f2, p2 and spectral_entropy of (window, sample) magnitudes."""
    frequency, power = scipy.signal.welch(
        magnitude,
        fs=sample_rate,
        window="hann",
        nperseg=round(SEGMENT_S * sample_rate),
        noverlap=round((SEGMENT_S - SEGMENT_STEP_S) * sample_rate),
        detrend="constant",
        scaling="spectrum",  # a bin's power is the mean square (g²) of a sine centred on it
        axis=-1,
    )
    windows, bins = scipy.signal.argrelmax(power, axis=-1)
    keep = power[windows, bins] >= STILL_G**2
    peak_power = np.zeros_like(power)  # power at local maxima, 0 elsewhere
    peak_power[windows[keep], bins[keep]] = power[windows[keep], bins[keep]]
    first, second = np.argsort(peak_power, axis=-1)[:, :-3:-1].T
    rows = np.arange(len(power))
    p1, p2 = peak_power[rows, first], peak_power[rows, second]
    f1 = np.where(p1 > 0, frequency[first], 0.0)
    # A single peak is its own second, as in the benchmark.
    f2, p2 = np.where(p2 > 0, frequency[second], f1), np.where(p2 > 0, p2, p1)
    # The floor makes an empty spectrum flat rather than 0/0, and barely moves any other.
    entropy = scipy.stats.entropy(power + STILL_G**2, axis=-1) / np.log(power.shape[-1])
    return {"f1": f1, "p1": p1, "f2": f2, "p2": p2, "spectral_entropy": entropy}


def peak_features(magnitude, sample_rate) -> dict[str, np.ndarray]:
    """peaks and peak_prominence of (window, sample) magnitudes."""
    gait = scipy.signal.butter(
        GAIT_FILTER_ORDER, GAIT_BAND_HZ, btype="bandpass", fs=sample_rate, output="sos"
    )
    filtered = scipy.signal.sosfiltfilt(gait, magnitude, axis=-1)
    # find_peaks takes one signal at a time.
    prominences = [
        scipy.signal.find_peaks(
            window, distance=PEAK_DISTANCE_S * sample_rate, prominence=PEAK_PROMINENCE_G
        )[1]["prominences"]
        for window in filtered
    ]
    return {
        "peaks": np.array([len(p) for p in prominences], dtype=np.float64),
        "peak_prominence": np.array([p.mean() if len(p) else 0.0 for p in prominences]),
    }


def gravity_angles(acceleration) -> dict[str, np.ndarray]:
    """angle_x, angle_y, angle_z of (window, sample, axis) acceleration, axes in AXES order."""
    # Each axis against the hypotenuse of the other two: y and z for x, z and x for y, ...
    others = np.hypot(np.roll(acceleration, -1, axis=-1), np.roll(acceleration, -2, axis=-1))
    angles = np.degrees(np.arctan2(acceleration, others)).mean(axis=1)
    return {f"angle_{axis}": angles[:, i] for i, axis in enumerate(AXES)}


def build(window_store, store, *, threads) -> None:
    """The feature rule: one participant's window store -> its feature store, computed with dask
    on `threads` threads. Every window is kept with its raw annotation: labels are applied where
    the features are read."""
    windows = open_store(window_store).drop_encoding()
    sample_rate = windows.attrs["sample_rate"]
    if windows.sizes["sample"] < SEGMENT_S * sample_rate:
        raise DataError(
            f"{window_store}: windows of {windows.attrs['window_length_s']} s: the features need "
            f"windows of at least {SEGMENT_S} s (set windows.length_s)"
        )
    # By axis name, so that the columns follow AXES whatever order the store keeps.
    acceleration = windows.acceleration.sel(axis=list(AXES)).chunk({"window": BLOCK_WINDOWS})
    features = da.map_blocks(
        functools.partial(window_features, sample_rate=sample_rate),
        acceleration.data,
        dtype=np.float32,
        meta=np.empty((0, 0), dtype=np.float32),
        drop_axis=[1, 2],
        new_axis=[1],
        chunks=(acceleration.chunks[0], (len(FEATURES),)),
    )
    ds = feature_dataset(
        features,
        list(FEATURES),
        participant=windows.participant,
        window_start=windows.window_start,
        annotation=windows.annotation,
        sample_rate=sample_rate,
        window_length_s=windows.attrs["window_length_s"],
        window_step_s=windows.attrs["window_step_s"],
        feature_descriptions=FEATURES,
        method="spectrohar.cache.features.window_features",
        spectrohar_version=__version__,
    ).chunk({"window": -1})  # a participant's features are small: one chunk
    with dask.config.set(scheduler="threads", num_workers=threads), reading(window_store):
        write_dataset(ds, store, chunks={"features": ds.features.shape})
    log.info("%d windows x %d features -> %s", *ds.features.shape, store)
