"""A recording's predictions per calendar day: the time in each class, non-wear and no data.

Days run midnight to midnight of the timestamps' own wall clock (the stores' naive
`window_start`), so every day is 24 h long; where the timestamps carry an IANA time zone (a
tz-aware `window_start`, prediction's with predict.timezone), they are that zone's days, 23 or
25 h long where its clocks change, and time is counted in real hours. A window covers
[start, start + step), the step from one window's start to the next (the window length unless
windows overlap: overlapping windows count each instant once); consecutive windows of one state
(a class, or non-wear whatever the prediction) merge into runs, and a run is cut at each
midnight it crosses, so a window over midnight counts on both days in proportion. Every calendar
day from the recording's first to its last is summarised, days entirely in a gap too; time
before the first window, after the last and in gaps is no data.

A day is complete when at least 21 h of it were worn and recorded (predict.valid_day_hours
sets it; prediction.cohort calls such a day valid), stepcount's bar for its adjusted daily
estimates (OxWearables; "up to 3h/d missingness"): the first and last days of a
recording, usually part-days, fall short, while one dropped window or a short gap does not
spoil a day as a rule of no hour without data would.
"""

import numpy as np
import pandas as pd

from spectrohar.cache.layout import window_length

NON_WEAR = "non-wear"  # the state of non-wear windows, beside the classes
MIN_WEAR_HOURS = 21.0  # a complete day's least time worn and recorded


def midnights(first, last, zone) -> pd.DatetimeIndex:
    """The midnights of the dates `first` to `last` on the clock of `zone` (None: naive times'
    own); where the clock skips a midnight, the day starts at its first instant, and where it
    shows one twice, at the first."""
    wall = pd.date_range(first, last, freq="D")
    if zone is None:
        return wall
    return wall.tz_localize(zone, ambiguous=np.ones(len(wall), bool), nonexistent="shift_forward")


def _dates(instants, zone) -> pd.DatetimeIndex:
    """The dates (naive midnights) on the clock of `zone` of `instants` (UTC where a zone)."""
    index = pd.DatetimeIndex(instants)
    if zone is not None:
        index = index.tz_localize("UTC").tz_convert(zone).tz_localize(None)
    return index.normalize()


def day_runs(window_start, window_step_s, predicted, non_wear, classes) -> pd.DataFrame:
    """Runs of consecutive windows in one state, cut at midnight: each run's `date` (its day's
    midnight), `start`, `end` (datetime64, in the zone of `window_start` where it has one) and
    `state`, a categorical of `classes` and NON_WEAR (which non-wear windows take whatever
    their prediction)."""
    if NON_WEAR in classes:
        raise ValueError(f"a class is named {NON_WEAR!r}, the name of non-wear time")
    index = pd.DatetimeIndex(window_start)
    zone = index.tz
    start = (index if zone is None else index.tz_convert(None)).values.astype("datetime64[ns]")
    if start.size == 0:
        raise ValueError("no windows to summarise")
    end = start + window_length(window_step_s)
    if np.any(start[1:] < end[:-1]):
        raise ValueError("window starts must increase by at least the windows' step")
    predicted = np.asarray(predicted, dtype=object)
    codes = pd.Index(classes).get_indexer(predicted)
    if np.any(codes < 0):
        unknown = sorted(set(predicted[codes < 0]))
        raise ValueError(f"predicted classes {unknown} are not among {list(classes)}")
    codes = np.where(non_wear, len(classes), codes)

    new = np.ones(len(start), dtype=bool)
    new[1:] = (codes[1:] != codes[:-1]) | (start[1:] != end[:-1])
    last = np.flatnonzero(np.append(new[1:], True))
    run_start, run_end, run_code = start[new], end[last], codes[new]

    # A run's last day holds its last instant: a run ending at midnight takes none of the next.
    last_instant = run_end - np.timedelta64(1, "ns")
    first, last = _dates(run_start[:1], zone)[0], _dates(last_instant[-1:], zone)[0]
    bounds = midnights(first, last + pd.Timedelta(days=1), zone)
    instants = (bounds if zone is None else bounds.tz_convert(None)).values
    first_day = np.searchsorted(instants, run_start, side="right") - 1
    days = np.searchsorted(instants, last_instant, side="right") - first_day
    run = np.repeat(np.arange(len(run_start)), days)
    day = first_day[run] + np.arange(len(run)) - np.repeat(np.cumsum(days) - days, days)
    runs = pd.DataFrame(
        {
            "date": bounds[day],
            "start": np.maximum(run_start[run], instants[day]),
            "end": np.minimum(run_end[run], instants[day + 1]),
            "state": pd.Categorical.from_codes(run_code[run], categories=[*classes, NON_WEAR]),
        }
    )
    if zone is not None:
        for column in ("start", "end"):
            runs[column] = runs[column].dt.tz_localize("UTC").dt.tz_convert(zone)
    return runs


def recording_days(runs) -> pd.DatetimeIndex:
    """The midnights of every day from the first of `runs` to the last, and of the day after
    (the end of the last), on the clock of their dates."""
    date = pd.DatetimeIndex(runs["date"])
    wall = date.tz_localize(None).normalize()  # a day whose midnight was skipped starts later
    return midnights(wall.min(), wall.max() + pd.Timedelta(days=1), date.tz)


def daily_summary(
    window_start,
    window_step_s,
    predicted,
    non_wear,
    classes,
    recording,
    min_wear_hours=MIN_WEAR_HOURS,
) -> pd.DataFrame:
    """One row per calendar day of `recording`'s windows: hours_<class> for each of `classes`
    (non-wear windows left out), hours_non_wear, hours_no_data (the rest of the day) and
    `complete`, whether the class hours (time worn and recorded) reach `min_wear_hours`."""
    runs = day_runs(window_start, window_step_s, predicted, non_wear, classes)
    bounds = recording_days(runs)
    days = bounds[:-1]
    ns = np.zeros((len(days), len(classes) + 1), dtype=np.int64)  # integers: each day sums up
    where = (days.get_indexer(runs["date"]), runs["state"].cat.codes.values)
    np.add.at(ns, where, (runs["end"] - runs["start"]).values.view("int64"))
    hour_ns = 3600 * 10**9
    hours = {f"hours_{cls}": ns[:, i] / hour_ns for i, cls in enumerate(classes)}
    worn = ns[:, : len(classes)].sum(axis=1) / hour_ns
    return pd.DataFrame(
        {
            "recording": recording,
            "date": days.date,
            **hours,
            "hours_non_wear": ns[:, -1] / hour_ns,
            "hours_no_data": (np.diff(bounds.asi8) - ns.sum(axis=1)) / hour_ns,
            "complete": worn >= min_wear_hours,
        }
    )
