import numpy as np
import pandas as pd
import pytest
from conftest import window_store

from spectrohar.cache import features
from spectrohar.cache.features import FEATURES, window_features
from spectrohar.cache.stores import open_store
from spectrohar.errors import DataError

RATE = 100
TIME = np.arange(30 * RATE) / RATE  # a 30 s window at 100 Hz
SPECTRUM_BINS = 151  # Welch over 3 s segments at 100 Hz: 300 // 2 + 1 frequencies


def named(acceleration, sample_rate=RATE):
    """window_features of (window, sample, axis) `acceleration`, by feature name."""
    values = window_features(acceleration, sample_rate)
    return {name: values[:, i] for i, name in enumerate(FEATURES)}


def still(gravity):
    """One 30 s window of constant acceleration `gravity` (x, y, z) in g."""
    return np.broadcast_to(np.asarray(gravity, dtype=np.float64), (1, len(TIME), 3))


def on_z(signal):
    """One window with `signal` on z and nothing on x and y: its magnitude is `signal`."""
    return np.stack([np.zeros_like(signal), np.zeros_like(signal), signal], axis=-1)[None]


def test_features_are_float32_columns_in_features_order_one_row_per_window(rng):
    acceleration = rng.normal(size=(5, len(TIME), 3)).astype(np.float32)
    values = window_features(acceleration, RATE)
    assert values.shape == (5, len(FEATURES)) and values.dtype == np.float32
    assert len(FEATURES) == 46 and all(FEATURES.values())
    # Window by window, the same as all at once: no window's features depend on another's.
    np.testing.assert_allclose(
        np.concatenate([window_features(w[None], RATE) for w in acceleration]), values, rtol=1e-6
    )
    assert named(acceleration)["y_q50"] == pytest.approx(np.median(acceleration[:, :, 1], axis=1))


def test_a_still_window_tilted_in_gravity(rng):
    gravity = np.array([0.6, -0.48, 0.64])  # |g| = 1
    f = named(still(gravity))
    for i, axis in enumerate("xyz"):
        for statistic in ("mean", "q10", "q25", "q50", "q75", "q90"):
            assert f[f"{axis}_{statistic}"] == pytest.approx(gravity[i])
        assert f[f"{axis}_std"] == pytest.approx(0, abs=1e-12) and f[f"{axis}_range"] == 0
        # Of a unit vector, the angle to the plane of the other two axes is arcsin(component).
        assert f[f"angle_{axis}"] == pytest.approx(np.degrees(np.arcsin(gravity[i])), abs=1e-4)
    assert f["norm_mean"] == pytest.approx(1) and f["norm_q90"] == pytest.approx(1)
    # Undefined for constants, so 0; no spectral or gait peaks; an empty spectrum counts as flat.
    for name in ("corr_xy", "corr_yz", "corr_zx", "autocorr_1s", "f1", "p1", "f2", "p2"):
        assert f[name] == 0, name
    assert f["peaks"] == f["peak_prominence"] == 0
    assert f["spectral_entropy"] == pytest.approx(1)


def test_angles_of_a_still_wrist_lying_flat():
    f = named(still([0, 0, 1]))
    assert (f["angle_x"], f["angle_y"], f["angle_z"]) == pytest.approx((0, 0, 90))
    f = named(still([-1, 0, 0]))
    assert (f["angle_x"], f["angle_y"], f["angle_z"]) == pytest.approx((-90, 0, 0))


def test_ramps_give_their_quantiles_spread_and_correlations():
    n = len(TIME)
    x = np.linspace(-1, 1, n)
    y = -(x + 1) / 2  # from 0 down to -1
    acceleration = np.stack([x, y, np.ones(n)], axis=-1)[None]
    f = named(acceleration)
    # The linear-interpolated p-quantile of n evenly spaced points from -1 to 1 is -1 + 2p; of
    # y, falling from 0 to -1, it is p - 1.
    for q in (10, 25, 50, 75, 90):
        assert f[f"x_q{q}"] == pytest.approx(-1 + 2 * q / 100, abs=1e-6)
        assert f[f"y_q{q}"] == pytest.approx(q / 100 - 1, abs=1e-6)
    # The population variance of n evenly spaced points over [-1, 1] is (n + 1) / (3 (n - 1)).
    assert f["x_std"] == pytest.approx(np.sqrt((n + 1) / (3 * (n - 1))))
    assert f["y_std"] == pytest.approx(np.sqrt((n + 1) / (3 * (n - 1))) / 2)
    assert f["x_mean"] == pytest.approx(0, abs=1e-7) and f["y_mean"] == pytest.approx(-0.5)
    assert f["x_range"] == pytest.approx(2) and f["y_range"] == pytest.approx(1)
    assert f["corr_xy"] == pytest.approx(-1)
    assert f["corr_yz"] == f["corr_zx"] == 0  # z is constant
    norm = np.sqrt(x**2 + y**2 + 1)
    assert f["norm_mean"] == pytest.approx(norm.mean())
    assert f["norm_q50"] == pytest.approx(np.median(norm))
    assert f["norm_range"] == pytest.approx(np.ptp(norm))
    assert f["angle_z"] == pytest.approx(np.degrees(np.arctan(1 / np.sqrt(x**2 + y**2))).mean())
    assert f["angle_x"] == pytest.approx(np.degrees(np.arctan(x / np.sqrt(y**2 + 1))).mean())


def test_a_2_hz_sine_has_its_frequency_power_and_a_three_bin_hann_spectrum():
    amplitude = 0.2
    f = named(on_z(1 + amplitude * np.sin(2 * np.pi * 2 * TIME)))
    assert f["f1"] == pytest.approx(2)
    assert f["p1"] == pytest.approx(amplitude**2 / 2)  # a sine's mean square
    assert (f["f2"], f["p2"]) == (f["f1"], f["p1"])  # one peak: its own second
    assert f["norm_std"] == pytest.approx(amplitude / np.sqrt(2))
    # A Hann-windowed sine centred on a bin leaks a quarter of its power into either neighbour:
    # the spectrum is 1/6, 2/3, 1/6 of the power on three of the 151 frequencies.
    shares = np.array([1 / 6, 2 / 3, 1 / 6])
    entropy = -(shares * np.log(shares)).sum() / np.log(SPECTRUM_BINS)
    assert f["spectral_entropy"] == pytest.approx(entropy, rel=1e-5)


def test_two_sines_are_the_two_dominant_frequencies_in_order_of_power():
    signal = 1 + 0.1 * np.sin(2 * np.pi * 3 * TIME) + 0.3 * np.sin(2 * np.pi * 1 * TIME)
    f = named(on_z(signal))
    assert (f["f1"], f["f2"]) == (pytest.approx(1), pytest.approx(3))
    assert (f["p1"], f["p2"]) == (pytest.approx(0.3**2 / 2), pytest.approx(0.1**2 / 2))


@pytest.mark.parametrize(("frequency", "expected"), [(1, 1), (4, 1), (0.5, -1)])
def test_autocorrelation_at_1_s_of_a_sine_is_the_cosine_of_its_phase_step(frequency, expected):
    f = named(on_z(1 + 0.3 * np.sin(2 * np.pi * frequency * TIME)))
    assert f["autocorr_1s"] == pytest.approx(expected)


def test_steps_at_2_hz_are_counted_with_their_prominence():
    # Two steps a second for 30 s, the window starting and ending in a trough: 60 peaks, each
    # rising 2 x 0.5 g above the troughs beside it.
    f = named(on_z(1 - 0.5 * np.cos(2 * np.pi * 2 * TIME)))
    assert f["peaks"] == 60
    assert f["peak_prominence"] == pytest.approx(1, rel=0.02)
    # Below the minimum prominence of 0.25 g: no steps.
    f = named(on_z(1 - 0.1 * np.cos(2 * np.pi * 2 * TIME)))
    assert f["peaks"] == f["peak_prominence"] == 0


def test_finite_features_for_any_finite_windows(rng):
    acceleration = np.concatenate(
        [
            np.zeros((1, len(TIME), 3)),  # free fall: no gravity, no angle
            still([0, 0, 1]),
            rng.normal(size=(2, len(TIME), 3)) * [[[1e-9]], [[8]]],  # tiny and large
            on_z(np.sign(np.sin(2 * np.pi * 0.2 * TIME))),  # a square wave through 0 g
        ]
    )
    assert np.isfinite(window_features(acceleration, RATE)).all()


def test_windows_shorter_than_a_spectral_segment_are_refused():
    with pytest.raises(ValueError, match="at least 3 s"):
        window_features(np.zeros((1, 200, 3)), RATE)


def test_build_writes_every_window_s_features_with_their_names_and_windows(tmp_path, rng):
    n = features.BLOCK_WINDOWS + 20  # two blocks of windows
    acceleration = (rng.normal(size=(n, len(TIME), 3)) * 0.3 + [0, 0, 1]).astype(np.float32)
    annotation = rng.choice(["7030 sleeping;MET 0.95", "", "walking;MET 3.5"], size=n)
    window_store(tmp_path / "P007.zarr", "P007", annotation, acceleration, step_s=15)
    features.build(tmp_path / "P007.zarr", tmp_path / "features.zarr", threads=2)
    ds = open_store(tmp_path / "features.zarr")
    assert ds.features.dims == ("window", "feature") and ds.features.dtype == np.float32
    np.testing.assert_allclose(
        ds.features.values, window_features(acceleration, RATE), rtol=1e-6, atol=1e-6
    )
    assert list(ds.feature.values) == list(FEATURES)
    assert list(ds.annotation.values) == list(annotation)  # every window, unannotated ones too
    assert set(ds.participant.values) == {"P007"}
    np.testing.assert_array_equal(
        ds.window_start.values, pd.date_range("2016-01-01", periods=n, freq="15s").values
    )
    assert ds.attrs["sample_rate"] == RATE and ds.attrs["window_length_s"] == 30
    assert ds.attrs["window_step_s"] == 15  # overlapping windows, as the window store says
    assert ds.attrs["feature_descriptions"] == FEATURES


def test_build_refuses_a_store_of_windows_too_short(tmp_path):
    window_store(
        tmp_path / "P007.zarr",
        "P007",
        ["a"] * 3,
        np.zeros((3, 2 * RATE, 3), np.float32),
        length_s=2,
    )
    with pytest.raises(DataError, match="P007.zarr: windows of 2 s"):
        features.build(tmp_path / "P007.zarr", tmp_path / "features.zarr", threads=1)
