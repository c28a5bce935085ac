"""A cohort's predictions, a recording a row, as the field's summaries give them (stepcount's and
biobankAccelerometerAnalysis' summary tables, GGIR's part 2 report): how long each recording ran,
how long it was worn, on how many valid days, and the mean hours per day of each class over those
days, on all of them, on weekdays and on weekend days.

A day is a calendar day of the recording's clock (prediction.daily: midnight to midnight of
`window_start`, 23 or 25 h long where predict.timezone's clocks change). Its hours worn and
recorded are the time of the day covered by windows that are not non-wear, each window standing
for [start, start + step) and a window over midnight counting on both days in proportion: the sum
of the day's hours of each class in the daily summary. Time in non-wear windows, in gaps between
windows and before the first window or after the last is not counted. A day is valid when its
hours worn and recorded reach predict.valid_day_hours (21 h by default, stepcount's bar: up to
3 h a day missing), which the daily summary's `complete` says; the first and last days of a
recording, usually part-days, are valid when they reach it too (a recording started at 01:00
has 23 h on its first day). Weekend days are Saturdays and Sundays. A mean over valid days is
the hours as predicted, not scaled up to 24 h for the time a valid day was not worn; it is
undefined (NaN) where a recording has no valid day of the kind.
"""

import numpy as np
import pandas as pd

from spectrohar.settings import DEFAULTS

VALID_DAY_HOURS = DEFAULTS["predict"]["valid_day_hours"]
SATURDAY = 5  # date.weekday(): Saturday and Sunday are the weekend
# Each kind of valid day whose means the cohort table gives, by the suffix of its columns.
DAY_KINDS = {"per_day": "valid", "per_weekday": "weekday", "per_weekend_day": "weekend"}


def day_kinds(days) -> dict[str, np.ndarray]:
    """Which of a recording's `days` (its rows of the daily summary) are valid, valid weekdays
    and valid weekend days."""
    valid = days["complete"].to_numpy(dtype=bool)
    weekend = pd.DatetimeIndex(days["date"]).day_of_week.to_numpy() >= SATURDAY
    return {"valid": valid, "weekday": valid & ~weekend, "weekend": valid & weekend}


def recording_summary(days, classes) -> dict:
    """A recording's summary over its `days` (its rows of daily.daily_summary, whose `complete`
    marks its valid days): days recorded (every calendar day from its first window's to its
    last's), valid days, valid weekdays and valid weekend days, hours worn and recorded and
    hours of non-wear over the recording, and each of `classes`' mean hours per valid day,
    per valid weekday and per valid weekend day (NaN where there is none)."""
    kinds = day_kinds(days)
    hours = days[[f"hours_{cls}" for cls in classes]].to_numpy()
    row = {
        "days_recorded": len(days),
        "valid_days": int(kinds["valid"].sum()),
        "valid_weekdays": int(kinds["weekday"].sum()),
        "valid_weekend_days": int(kinds["weekend"].sum()),
        "hours_worn": float(hours.sum()),
        "hours_non_wear": float(days["hours_non_wear"].sum()),
    }
    for suffix, kind in DAY_KINDS.items():
        chosen = kinds[kind]
        means = hours[chosen].mean(axis=0) if chosen.any() else np.full(len(classes), np.nan)
        row |= {f"hours_{cls}_{suffix}": float(m) for cls, m in zip(classes, means, strict=True)}
    return row


def distribution(cohort, columns, quantiles=(0.1, 0.25, 0.5, 0.75, 0.9)) -> pd.DataFrame:
    """A row per column of `columns` of the `cohort` table: how many recordings have a value,
    its mean, least, `quantiles` and greatest across them."""
    values = cohort[list(columns)].astype(float)
    table = pd.DataFrame(
        {
            "recordings": values.count(),
            "mean": values.mean(),
            "min": values.min(),
            **{f"{q:.0%}": values.quantile(q) for q in quantiles},
            "max": values.max(),
        }
    )
    return table.rename_axis("column").reset_index()


def failures_sentence(failed, recordings, failures) -> str:
    """What a run says at its end: how many of its `recordings` failed, and where they are
    listed (`failures`, the failures table)."""
    return f"{failed} of {recordings} recordings failed: see {failures}"


def written_failures(failures, cohort) -> tuple[int, str]:
    """How many recordings the `failures` table that summarise wrote lists, and the
    failures_sentence of it and of its `cohort` table."""
    failed = len(pd.read_csv(failures))
    return failed, failures_sentence(failed, len(pd.read_csv(cohort)), failures)
