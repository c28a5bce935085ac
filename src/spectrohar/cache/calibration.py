"""Autocalibration against local gravity (van Hees et al. 2014, J Appl Physiol 117: 738-744).

A device at rest measures gravity only, so the means of its stationary 10-s blocks should lie on
the unit sphere. Per axis, an offset, a scale and (when the device records it) a temperature
coefficient are fitted by iteratively reweighted least squares so that they do:

    calibrated = offset + scale * raw + temperature_coefficient * (T - temperature_reference)

The fit is applied only when the stationary blocks are many, cover the sphere, and the fit brings
their mean distance to the sphere down, below 10 mg; otherwise the recording is used as it is.
A week is processed in pieces: `stationary_points` per piece, `Points.concat`, `fit_calibration`.
"""

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from spectrohar.cache.layout import AXES
from spectrohar.errors import DataError

# The thresholds of van Hees et al. 2014, as GGIR's g.calibrate uses them.
STATIONARY_SD_G = 0.013  # a block is stationary when each axis's sd is below this
WINDOW_S = 10  # the length of a block
MIN_WINDOWS = 50  # fewer stationary blocks: not fitted
COVERAGE_G = 0.3  # each axis needs a stationary block below -COVERAGE_G and one above it
MAX_ERROR_MG = 10  # the mean distance to the sphere after calibration must be below this
MAX_ITERATIONS = 1000
TOLERANCE = 1e-4  # relative improvement of the weighted mean residual that ends the fit
MAX_WEIGHT = 100  # caps 1 / residual, so that points already on the sphere do not dominate

CHUNK_BLOCKS = 4096  # blocks summarised at once: bounds the memory a week's piece needs


@dataclasses.dataclass(frozen=True)
class Points:
    """Per-axis means (g) of stationary blocks, (m, 3), and their mean temperatures (degC; NaN
    where the block has none or the device records none), (m,)."""

    acceleration: np.ndarray
    temperature: np.ndarray

    @classmethod
    def concat(cls, pieces: Iterable["Points"]) -> "Points":
        """The points of consecutive pieces of a recording, joined."""
        pieces = list(pieces)
        return cls(
            np.concatenate([np.empty((0, 3))] + [p.acceleration for p in pieces]),
            np.concatenate([np.empty(0)] + [p.temperature for p in pieces]),
        )

    def __len__(self) -> int:
        return len(self.acceleration)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The outcome of autocalibration; the parameters are the identity when not applied."""

    applied: bool
    reason: str
    error_before_mg: float  # NaN when no stationary window
    error_after_mg: float  # NaN when not fitted
    offset: tuple[float, float, float]
    scale: tuple[float, float, float]
    temperature_coefficient: tuple[float, float, float]
    temperature_reference: float
    stationary_windows: int

    def attrs(self) -> dict:
        """The record as flat, JSON-serialisable attributes, keys prefixed `calibration_`."""
        return {
            "calibration_applied": bool(self.applied),
            "calibration_reason": self.reason,
            "calibration_error_before_mg": float(self.error_before_mg),
            "calibration_error_after_mg": float(self.error_after_mg),
            "calibration_offset_g": [float(v) for v in self.offset],
            "calibration_scale": [float(v) for v in self.scale],
            "calibration_temperature_coefficient_g_per_c": [
                float(v) for v in self.temperature_coefficient
            ],
            "calibration_temperature_reference_c": float(self.temperature_reference),
            "calibration_stationary_windows": int(self.stationary_windows),
        }


def _not_applied(reason: str, windows: int, error_before: float, error_after: float):
    return Calibration(
        applied=False,
        reason=reason,
        error_before_mg=error_before,
        error_after_mg=error_after,
        offset=(0.0, 0.0, 0.0),
        scale=(1.0, 1.0, 1.0),
        temperature_coefficient=(0.0, 0.0, 0.0),
        temperature_reference=math.nan,
        stationary_windows=windows,
    )


def not_calibrated(reason: str) -> Calibration:
    """The record of a recording not calibrated on purpose: NaN errors, identity parameters."""
    return _not_applied(reason, 0, math.nan, math.nan)


def _check(acceleration: np.ndarray, temperature: np.ndarray | None) -> None:
    if acceleration.ndim != 2 or acceleration.shape[1] != 3:
        raise DataError(f"acceleration has shape {acceleration.shape}; calibration needs (n, 3)")
    if temperature is not None and temperature.shape != acceleration.shape[:1]:
        raise DataError(
            f"temperature has shape {temperature.shape}; calibration needs "
            f"({len(acceleration)},), one value per acceleration sample"
        )


def _block_summary(blocks: np.ndarray, temperature: np.ndarray | None):
    """Means of the stationary blocks among `blocks` (k, length, 3) and of their temperature."""
    # Axis-major copy: reductions along contiguous memory are several times faster, and pairwise.
    blocks = np.ascontiguousarray(blocks.transpose(0, 2, 1))
    # A non-finite sample makes its axis's sd NaN, which fails the test: the block is skipped.
    with np.errstate(invalid="ignore", over="ignore"):
        stationary = (blocks.std(axis=2) < STATIONARY_SD_G).all(axis=1)
    means = blocks[stationary].mean(axis=2, dtype=np.float64)
    if temperature is None:
        return means, np.full(len(means), np.nan)
    values = temperature[stationary].astype(np.float64)
    known = np.isfinite(values)
    counts = known.sum(axis=1)
    totals = np.where(known, values, 0.0).sum(axis=1)
    # A block without any temperature reading gets NaN (0 / 0 would warn).
    return means, np.divide(totals, counts, out=np.full(len(means), np.nan), where=counts > 0)


def stationary_points(
    acceleration: np.ndarray, sample_rate: float, temperature: np.ndarray | None = None
) -> Points:
    """The stationary blocks of a piece of recording on a regular grid at `sample_rate` Hz.

    Blocks of round(WINDOW_S * sample_rate) samples start at multiples of that length from the
    start of the array (an incomplete last block is ignored), so pieces whose lengths are
    multiples of it give the points of the whole. A block with a non-finite sample is skipped;
    a missing temperature does not skip a block.
    """
    acceleration = np.asarray(acceleration)
    temperature = None if temperature is None else np.asarray(temperature)
    _check(acceleration, temperature)
    length = round(WINDOW_S * sample_rate)
    if length < 2:
        raise DataError(f"sample rate {sample_rate} Hz gives blocks of {length} sample(s)")
    count = len(acceleration) // length
    blocks = acceleration[: count * length].reshape(count, length, 3)
    block_temperature = None
    if temperature is not None:
        block_temperature = temperature[: count * length].reshape(count, length)
    summaries = [
        _block_summary(
            blocks[start : start + CHUNK_BLOCKS],
            None if block_temperature is None else block_temperature[start : start + CHUNK_BLOCKS],
        )
        for start in range(0, count, CHUNK_BLOCKS)
    ]
    return Points.concat(Points(means, temps) for means, temps in summaries)


def _error_mg(points: np.ndarray) -> float:
    return float(np.mean(np.abs(np.linalg.norm(points, axis=1) - 1)) * 1000)


def _uncovered(points: np.ndarray) -> list[str]:
    """The axes without a stationary point below -COVERAGE_G or one above +COVERAGE_G."""
    low, high = points.min(axis=0), points.max(axis=0)
    return [
        f"axis {axis} spans {lo:.2f} g to {hi:.2f} g"
        for axis, lo, hi in zip(AXES, low, high, strict=True)
        if not (lo < -COVERAGE_G and hi > COVERAGE_G)
    ]


def _fit(raw: np.ndarray, delta_t: np.ndarray):
    """Offset, scale and temperature coefficient per axis, by iteratively reweighted least
    squares towards each calibrated point's closest point on the unit sphere."""
    offset, scale, coefficient = np.zeros(3), np.ones(3), np.zeros(3)
    previous = math.inf
    for _ in range(MAX_ITERATIONS):
        calibrated = offset + scale * raw + coefficient * delta_t[:, None]
        norm = np.linalg.norm(calibrated, axis=1)
        closest = calibrated / norm[:, None]
        distance = np.abs(norm - 1)
        weights = 1 / np.maximum(distance, 1 / MAX_WEIGHT)
        residual = np.sum(weights * distance) / np.sum(weights)
        if residual >= previous * (1 - TOLERANCE):
            break
        previous = residual
        root = np.sqrt(weights)
        for k in range(3):
            design = np.column_stack([np.ones(len(raw)), calibrated[:, k], delta_t])
            (a, b, c), *_ = np.linalg.lstsq(
                design * root[:, None], closest[:, k] * root, rcond=None
            )
            offset[k], scale[k] = a + b * offset[k], b * scale[k]
            coefficient[k] = b * coefficient[k] + c
    return offset, scale, coefficient


def fit_calibration(points: Points) -> Calibration:
    """Fit the calibration to a recording's stationary points and decide whether to apply it."""
    raw, windows = points.acceleration, len(points)
    if windows == 0:
        return _not_applied("not applied: no stationary window", 0, math.nan, math.nan)
    before = _error_mg(raw)
    if windows < MIN_WINDOWS:
        return _not_applied(
            f"not applied: {windows} stationary windows, fewer than the {MIN_WINDOWS} needed",
            windows,
            before,
            math.nan,
        )
    uncovered = _uncovered(raw)
    if uncovered:
        return _not_applied(
            f"not applied: the {windows} stationary windows do not cover the sphere "
            f"({'; '.join(uncovered)}; each axis needs points below -{COVERAGE_G} g "
            f"and above +{COVERAGE_G} g)",
            windows,
            before,
            math.nan,
        )
    known = np.isfinite(points.temperature)
    reference = float(np.mean(points.temperature[known])) if known.any() else math.nan
    # A block without temperature is taken at the reference: it informs offset and scale only.
    delta_t = np.where(known, points.temperature - reference, 0.0)
    offset, scale, coefficient = _fit(raw, delta_t)
    after = _error_mg(offset + scale * raw + coefficient * delta_t[:, None])
    figures = f"error {before:.1f} mg -> {after:.1f} mg on {windows} stationary windows"
    if not after < before:
        return _not_applied(f"not applied: {figures}, no improvement", windows, before, after)
    if not after < MAX_ERROR_MG:
        return _not_applied(
            f"not applied: {figures}, not below the {MAX_ERROR_MG} mg allowed",
            windows,
            before,
            after,
        )
    return Calibration(
        applied=True,
        reason=f"applied: {figures}",
        error_before_mg=before,
        error_after_mg=after,
        offset=tuple(float(v) for v in offset),
        scale=tuple(float(v) for v in scale),
        temperature_coefficient=tuple(float(v) for v in coefficient),
        temperature_reference=reference,
        stationary_windows=windows,
    )


def apply_calibration(
    acceleration: np.ndarray, calibration: Calibration, temperature: np.ndarray | None = None
) -> np.ndarray:
    """Calibrated acceleration (n, 3) as float32; the input as it is when not applied. NaN
    stays NaN; a missing temperature is taken at the reference (no temperature term)."""
    acceleration = np.asarray(acceleration)
    temperature = None if temperature is None else np.asarray(temperature)
    _check(acceleration, temperature)
    if not calibration.applied:
        return acceleration.astype(np.float32)
    coefficient = np.asarray(calibration.temperature_coefficient, dtype=np.float32)
    if temperature is None and coefficient.any():
        raise DataError(
            "the calibration has a temperature term, but no temperature was given to apply it"
        )
    calibrated = acceleration.astype(np.float32) * np.asarray(calibration.scale, np.float32)
    calibrated += np.asarray(calibration.offset, np.float32)
    if coefficient.any():
        delta_t = (temperature - calibration.temperature_reference).astype(np.float32)
        calibrated += coefficient * np.where(np.isfinite(delta_t), delta_t, 0)[:, None]
    return calibrated
