"""Non-wear by the van Hees / GGIR rule, checked on recordings built by hand: still stretches
inside movement, and the hour statistics against numpy on the raw samples."""

import numpy as np
import pandas as pd
import pytest

from spectrohar.prediction.nonwear import NonWearRule, hour_statistics, non_wear, window_statistics

RATE = 5  # Hz: the rule reads statistics only, so a low rate keeps the recordings small
WINDOW_S = 30
AXIS = {"x": 0, "y": 1, "z": 2}
DAY = "2024-03-04 "  # the recordings' date: stretches are given as times of day


def recording(hours, still, start="09:00"):
    """`hours` of 30 s windows from `start` on DAY, moving on every axis (0.2 g swings) except
    during the `still` (from, to, axes) stretches, where those axes hold a fixed orientation
    with 4 mg of uniform noise (standard deviation 2.3 mg, range under 8 mg)."""
    rng = np.random.default_rng(1)
    n_windows = round(hours * 3600 / WINDOW_S)
    t = pd.Timestamp(DAY + start) + pd.to_timedelta(
        np.arange(n_windows * WINDOW_S * RATE) / RATE, "s"
    )
    moving = 0.2 * np.sin(2 * np.pi * 0.3 * np.arange(t.size) / RATE)[:, None] + [0, 0, 1]
    acceleration = moving + rng.normal(0, 0.05, (t.size, 3))
    for begin, end, axes in still:
        inside = (t >= pd.Timestamp(DAY + begin)) & (t < pd.Timestamp(DAY + end))
        for axis in axes:
            acceleration[inside, AXIS[axis]] = 0.6 + rng.uniform(-0.004, 0.004, inside.sum())
    window_start = t[:: WINDOW_S * RATE]
    return acceleration.reshape(n_windows, WINDOW_S * RATE, 3).astype(np.float32), window_start


def flagged(acceleration, window_start, **rule):
    """The windows non-wear under the default rule with `rule`'s thresholds changed."""
    return non_wear(window_statistics(acceleration), window_start, WINDOW_S, NonWearRule(**rule))


def expected(window_start, *stretches):
    """True for the windows starting in the (from, to) stretches of DAY."""
    result = np.zeros(len(window_start), dtype=bool)
    for begin, end in stretches:
        result |= (window_start >= pd.Timestamp(DAY + begin)) & (
            window_start < pd.Timestamp(DAY + end)
        )
    return result


def test_two_still_hours_on_the_quarter_hours_are_flagged_exactly():
    # The hours starting 11:00 to 12:00 lie inside the stretch and hold every block of it.
    acceleration, start = recording(6, [("11:00", "13:00", "xyz")])
    result = flagged(acceleration, start)
    np.testing.assert_array_equal(result, expected(start, ("11:00", "13:00")))


def test_a_stretch_off_the_quarter_hours_loses_its_part_filled_edge_blocks():
    # 11:07-13:07: only the hours starting 11:15 to 12:00 are still throughout, so the blocks
    # 11:15 to 12:45 are flagged and the still minutes 11:07-11:15 and 13:00-13:07 are not.
    acceleration, start = recording(6, [("11:07", "13:07", "xyz")])
    result = flagged(acceleration, start)
    np.testing.assert_array_equal(result, expected(start, ("11:15", "13:00")))


def test_half_overlapping_windows_are_flagged_as_their_blocks():
    # The same recording as 30 s windows every 15 s, each judged by its first 15 s (the time it
    # stands for): the stretch's windows, and no others.
    acceleration, start = recording(6, [("11:00", "13:00", "xyz")])
    samples = acceleration.reshape(-1, 3)
    step = 15 * RATE
    first = np.arange(0, len(samples) - WINDOW_S * RATE + 1, step)
    overlapping = np.stack([samples[i : i + WINDOW_S * RATE] for i in first])
    overlapping_start = start[0] + pd.to_timedelta(first / RATE, "s")
    result = non_wear(window_statistics(overlapping, step), overlapping_start, 15)
    np.testing.assert_array_equal(result, expected(overlapping_start, ("11:00", "13:00")))


@pytest.mark.parametrize(
    "still",
    [
        [("11:00", "11:55", "xyz")],  # shorter than an hour
        [("11:00", "13:00", "z")],  # one axis of the two needed
    ],
    ids=["55 minutes", "one axis"],
)
def test_too_short_or_one_axis_is_worn(still):
    acceleration, start = recording(6, still)
    assert not flagged(acceleration, start).any()


def test_two_still_axes_are_enough_and_the_thresholds_are_settings():
    acceleration, start = recording(6, [("11:00", "13:00", "xz")])
    np.testing.assert_array_equal(flagged(acceleration, start), expected(start, ("11:00", "13:00")))
    assert not flagged(acceleration, start, axes_still=3).any()
    # 2.3 mg of noise is still under a 13 mg threshold, not under a 1 mg one.
    assert not flagged(acceleration, start, std_mg=1).any()
    assert not flagged(acceleration, start, range_mg=5).any()


@pytest.mark.parametrize("z_still", [True, False])
def test_a_quarter_hour_with_one_still_axis_between_non_wear_is_non_wear(z_still):
    # Still 10:00-13:00 but for x and y moving 11:30-11:45. The hours holding 11:30-11:45 see
    # at most z still: block score 1, between blocks scoring 3 (hours starting 10:30 and 11:45
    # are still throughout), so GGIR's rule makes it 2; with z moving too it scores 0.
    still = [
        ("10:00", "11:30", "xyz"),
        ("11:30", "11:45", "z" if z_still else ""),
        ("11:45", "13:00", "xyz"),
    ]
    acceleration, start = recording(6, still)
    if z_still:
        want = expected(start, ("10:00", "13:00"))
    else:
        want = expected(
            start,
            ("10:00", "11:30"),
            ("11:45", "13:00"),
        )
    np.testing.assert_array_equal(flagged(acceleration, start), want)


def test_a_missing_window_costs_its_block():
    # Still 10:00-13:00, the window at 11:35 missing: every hour holding 11:30-11:45 lacks it,
    # so that block's windows are worn; the others are held by complete still hours.
    acceleration, start = recording(6, [("10:00", "13:00", "xyz")])
    keep = start != pd.Timestamp(DAY + "11:35")
    result = flagged(acceleration[keep], start[keep])
    want = expected(start[keep], ("10:00", "11:30"), ("11:45", "13:00"))
    np.testing.assert_array_equal(result, want)


def test_hour_statistics_equal_numpy_on_the_raw_samples():
    # Off the quarter hours, near 1 g (where uncentred sums lose digits) and with a gap.
    rng = np.random.default_rng(7)
    start = pd.Timestamp(DAY + "09:03:30") + pd.to_timedelta(np.arange(400) * 30, "s")
    keep = (start < pd.Timestamp(DAY + "10:20")) | (start >= pd.Timestamp(DAY + "10:40"))
    start = start[keep]
    acceleration = (1 + rng.normal(0, 0.02, (len(start), WINDOW_S * RATE, 3))).astype(np.float32)
    hours = hour_statistics(window_statistics(acceleration), start, WINDOW_S)

    assert hours["hour_start"].values[0] == np.datetime64("2024-03-04T09:00")
    for h, hour_start in enumerate(pd.to_datetime(hours["hour_start"].values)):
        inside = (start >= hour_start) & (start < hour_start + pd.Timedelta(hours=1))
        samples = acceleration[inside].astype(np.float64).reshape(-1, 3)
        if samples.shape[0] < 2:
            continue
        np.testing.assert_allclose(hours["std"][h], samples.std(axis=0, ddof=1), rtol=1e-10)
        np.testing.assert_array_equal(hours["range"][h], np.ptp(samples, axis=0))
        assert bool(hours["complete"][h]) == (inside.sum() == 120)
    # Windows 09:03:30 to 12:23 but 10:20-10:40: whole hours start at 09:15 and 10:45 to 11:15.
    complete = pd.to_datetime(hours["hour_start"].values[hours["complete"].values])
    assert list(complete.strftime("%H:%M")) == ["09:15", "10:45", "11:00", "11:15"]


def test_unsorted_or_overlapping_windows_are_refused():
    acceleration, start = recording(1, [])
    with pytest.raises(ValueError, match="increase"):
        flagged(acceleration[::-1], start[::-1])
