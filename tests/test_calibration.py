import json
import math

import numpy as np
import pytest

from spectrohar.cache.calibration import (
    MIN_WINDOWS,
    Points,
    apply_calibration,
    fit_calibration,
    not_calibrated,
    stationary_points,
)
from spectrohar.errors import DataError

RATE = 10  # Hz: blocks of 100 samples keep the tests fast
BLOCK = 10 * RATE
OFFSET = np.array([0.05, -0.03, 0.02])
SCALE = np.array([1.02, 0.98, 1.01])
COEFFICIENT = np.array([0.002, -0.0015, 0.001])  # g/degC


def orientations(rng, count):
    vectors = rng.normal(size=(count, 3))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def recording(rng, means, moving_every=5):
    """Stationary blocks at `means` (3 mg noise), a moving block (sd 0.3 g) after every
    `moving_every`-th; the blocks' temperatures (constant in a block) run over 20-30 degC."""
    blocks = [mean + rng.normal(scale=0.003, size=(BLOCK, 3)) for mean in means]
    for position in range(len(blocks) - len(blocks) % moving_every, 0, -moving_every):
        blocks.insert(position, rng.normal(scale=0.3, size=(BLOCK, 3)))
    stationary = np.ones(len(blocks), dtype=bool)
    stationary[moving_every :: moving_every + 1] = False
    temperature = np.repeat(rng.uniform(20, 30, size=len(blocks)), BLOCK)
    return np.concatenate(blocks), temperature, np.repeat(stationary, BLOCK)


def distort(true, temperature=None, reference=0.0):
    drift = 0 if temperature is None else COEFFICIENT * (temperature - reference)[:, None]
    return (true - OFFSET - drift) / SCALE


@pytest.fixture
def device(rng):
    """A distorted recording: (raw, true), 300 stationary blocks covering the sphere."""
    true, _, _ = recording(rng, orientations(rng, 300))
    return distort(true), true


def test_the_fit_recovers_offset_and_scale(device):
    raw, _ = device
    calibration = fit_calibration(stationary_points(raw, RATE))

    assert calibration.applied
    assert calibration.stationary_windows == 300  # the 60 moving blocks are left out
    np.testing.assert_allclose(calibration.offset, OFFSET, atol=1e-3)
    np.testing.assert_allclose(calibration.scale, SCALE, rtol=5e-3)
    assert calibration.temperature_coefficient == (0, 0, 0)
    assert math.isnan(calibration.temperature_reference)
    assert calibration.error_before_mg > 10 > calibration.error_after_mg
    assert calibration.reason == (
        f"applied: error {calibration.error_before_mg:.1f} mg -> "
        f"{calibration.error_after_mg:.1f} mg on 300 stationary windows"
    )


def test_apply_inverts_the_distortion(device):
    raw, true = device
    raw[7] = np.nan
    calibration = fit_calibration(stationary_points(raw, RATE))
    calibrated = apply_calibration(raw, calibration)

    assert calibrated.dtype == np.float32
    assert np.isnan(calibrated[7]).all()
    np.testing.assert_allclose(
        np.delete(calibrated, 7, axis=0), np.delete(true, 7, axis=0), atol=1e-3
    )


def test_the_fit_recovers_a_temperature_coefficient(rng):
    true, temperature, stationary = recording(rng, orientations(rng, 300))
    reference = temperature[stationary].mean()
    raw = distort(true, temperature, reference)
    calibration = fit_calibration(stationary_points(raw, RATE, temperature))

    assert calibration.applied
    assert calibration.temperature_reference == pytest.approx(reference)
    np.testing.assert_allclose(calibration.temperature_coefficient, COEFFICIENT, atol=1e-4)
    np.testing.assert_allclose(calibration.offset, OFFSET, atol=1e-3)
    np.testing.assert_allclose(calibration.scale, SCALE, rtol=5e-3)
    np.testing.assert_allclose(apply_calibration(raw, calibration, temperature), true, atol=2e-3)

    # Without a temperature reading, a sample is taken at the reference.
    missing = temperature.copy()
    missing[3] = np.nan
    calibrated = apply_calibration(raw[:5], calibration, missing[:5])
    np.testing.assert_allclose(
        calibrated[3],
        np.array(calibration.offset) + np.array(calibration.scale) * raw[3],
        atol=1e-6,
    )
    with pytest.raises(DataError, match="temperature term"):
        apply_calibration(raw, calibration)


def test_a_recording_without_temperature_readings_gets_no_temperature_term(device):
    raw, _ = device
    calibration = fit_calibration(stationary_points(raw, RATE, np.full(len(raw), np.nan)))
    assert calibration.applied
    assert calibration.temperature_coefficient == (0, 0, 0)
    assert math.isnan(calibration.temperature_reference)


def test_blocks_with_a_missing_sample_are_skipped(rng):
    true, temperature, _ = recording(rng, orientations(rng, 20), moving_every=100)
    true[5 * BLOCK + 3, 1] = np.nan
    true[8 * BLOCK, 0] = np.inf
    temperature[: 2 * BLOCK] = np.nan  # a missing temperature does not skip a block
    temperature[2 * BLOCK + 1] = np.nan

    points = stationary_points(true, RATE, temperature)

    assert len(points) == 18
    expected = np.delete(true.reshape(20, BLOCK, 3).mean(axis=1), [5, 8], axis=0)
    np.testing.assert_allclose(points.acceleration, expected)
    assert np.isnan(points.temperature[:2]).all()
    assert points.temperature[2] == pytest.approx(temperature[2 * BLOCK])


def test_the_points_of_pieces_joined_are_the_points_of_the_whole(rng):
    true, temperature, _ = recording(rng, orientations(rng, 42))
    true = true[: len(true) - BLOCK // 2]  # an incomplete last block is ignored
    temperature = temperature[: len(true)]
    whole = stationary_points(true, RATE, temperature)
    cut = 17 * BLOCK
    pieces = Points.concat(
        [
            stationary_points(true[:cut], RATE, temperature[:cut]),
            stationary_points(true[cut:], RATE, temperature[cut:]),
        ]
    )

    assert len(whole) == 41
    np.testing.assert_array_equal(pieces.acceleration, whole.acceleration)
    np.testing.assert_array_equal(pieces.temperature, whole.temperature)


def test_too_few_stationary_windows_are_not_fitted(rng):
    raw = distort(recording(rng, orientations(rng, MIN_WINDOWS - 1))[0])
    calibration = fit_calibration(stationary_points(raw, RATE))

    assert not calibration.applied
    assert calibration.reason == "not applied: 49 stationary windows, fewer than the 50 needed"
    assert calibration.error_before_mg > 10
    assert math.isnan(calibration.error_after_mg)
    np.testing.assert_array_equal(apply_calibration(raw, calibration), raw.astype(np.float32))


def test_no_stationary_window(rng):
    calibration = fit_calibration(stationary_points(rng.normal(size=(30 * BLOCK, 3)), RATE))
    assert not calibration.applied and calibration.stationary_windows == 0
    assert calibration.reason == "not applied: no stationary window"
    assert math.isnan(calibration.error_before_mg)


def test_a_sphere_not_covered_is_not_fitted(rng):
    # The device lay flat all along: x and y stay near 0, z near 1 g.
    tilts = rng.normal(scale=0.05, size=(100, 3)) + [0, 0, 1]
    raw = distort(recording(rng, tilts / np.linalg.norm(tilts, axis=1, keepdims=True))[0])
    calibration = fit_calibration(stationary_points(raw, RATE))

    assert not calibration.applied
    assert calibration.stationary_windows == 100
    assert "do not cover the sphere" in calibration.reason
    assert "axis x spans" in calibration.reason and "axis z spans" in calibration.reason
    assert calibration.scale == (1, 1, 1) and math.isnan(calibration.error_after_mg)


def test_a_poor_fit_is_not_applied(rng):
    # Stationary points scattered 5% around the sphere: no offset and scale bring them onto it.
    means = orientations(rng, 200) * rng.uniform(0.95, 1.05, size=(200, 1))
    calibration = fit_calibration(stationary_points(recording(rng, means)[0], RATE))

    assert not calibration.applied
    assert calibration.error_after_mg >= 10
    assert calibration.reason.startswith(
        f"not applied: error {calibration.error_before_mg:.1f} mg -> "
        f"{calibration.error_after_mg:.1f} mg on 200 stationary windows, not below the 10 mg"
    )
    assert calibration.offset == (0, 0, 0)


def test_a_perfect_device_stays_as_it_is(rng):
    true = recording(rng, orientations(rng, 300))[0]
    calibration = fit_calibration(stationary_points(true, RATE))

    assert calibration.error_before_mg < 1
    np.testing.assert_allclose(calibration.offset, 0, atol=1e-3)
    np.testing.assert_allclose(calibration.scale, 1, rtol=1e-3)
    np.testing.assert_allclose(apply_calibration(true, calibration), true, atol=1e-3)


def test_the_attributes_are_flat_and_serialisable(device):
    raw, _ = device
    calibration = fit_calibration(stationary_points(raw, RATE))
    attrs = json.loads(json.dumps(calibration.attrs()))

    assert math.isnan(attrs.pop("calibration_temperature_reference_c"))
    assert attrs == {
        "calibration_applied": True,
        "calibration_reason": calibration.reason,
        "calibration_error_before_mg": calibration.error_before_mg,
        "calibration_error_after_mg": calibration.error_after_mg,
        "calibration_offset_g": list(calibration.offset),
        "calibration_scale": list(calibration.scale),
        "calibration_temperature_coefficient_g_per_c": [0, 0, 0],
        "calibration_stationary_windows": 300,
    }


def test_a_recording_not_calibrated_on_purpose(device):
    raw, _ = device
    calibration = not_calibrated("calibration is off in the settings")
    attrs = calibration.attrs()

    assert attrs["calibration_applied"] is False
    assert attrs["calibration_reason"] == "calibration is off in the settings"
    assert math.isnan(attrs["calibration_error_before_mg"])
    assert math.isnan(attrs["calibration_error_after_mg"])
    assert attrs["calibration_scale"] == [1, 1, 1] and attrs["calibration_offset_g"] == [0, 0, 0]
    np.testing.assert_array_equal(apply_calibration(raw, calibration), raw.astype(np.float32))


def test_acceleration_must_have_three_axes():
    with pytest.raises(DataError, match=r"shape \(10, 2\)"):
        stationary_points(np.zeros((10, 2)), RATE)
    with pytest.raises(DataError, match="one value per acceleration sample"):
        stationary_points(np.zeros((10, 3)), RATE, np.zeros(9))
