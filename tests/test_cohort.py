"""The cohort table: a row per recording, against days and hours worked out by hand."""

import numpy as np
import pandas as pd

from spectrohar.cache.calibration import not_calibrated
from spectrohar.prediction.cohort import distribution
from spectrohar.prediction.predict import OUTPUTS, summarise

CLASSES = ["sleep", "light"]
DEVICE = {"device_format": "Axivity CWA", "device_type": "AX3", "device_serial": "42"}


def hourly(start, states, **attrs) -> pd.DataFrame:
    """A recording's predictions table of hour-long windows from `start`, one per state of
    `states` ("sleep", "light", "off" for non-wear, None for a gap without windows)."""
    starts = pd.date_range(start, periods=len(states), freq="h")
    kept = [i for i, state in enumerate(states) if state is not None]
    predicted = np.array(["sleep" if states[i] == "sleep" else "light" for i in kept], object)
    table = pd.DataFrame(
        {
            "window_start": starts[kept],
            "label": None,
            "predicted": predicted,
            "non_wear": [states[i] == "off" for i in kept],
            "probability_sleep": (predicted == "sleep").astype(float),
            "probability_light": (predicted == "light").astype(float),
        }
    )
    table.attrs = {
        "recording": f"recordings/{attrs.pop('name')}",
        "window_step_s": 3600,
        "recorded_sample_rate": 100.0,
        "resampled": False,
        "time_zone": "as recorded",
        **not_calibrated("off: calibrate is off").attrs(),
        **attrs,
    }
    return table


def day(sleep, light, off=0, gap=0) -> list:
    """A day's 24 hours from midnight: `sleep` hours, then `light`, then `off` (non-wear),
    `gap` hours without windows, and light again for the rest."""
    rest = 24 - sleep - light - off - gap
    return ["sleep"] * sleep + ["light"] * light + ["off"] * off + [None] * gap + ["light"] * rest


# Friday 1 March 2024 from 02:00 to noon on Monday: Friday 22 h worn (valid though a part-day),
# Saturday 21 h (3 h non-wear: valid, just), Sunday 20 h (a 4 h gap: not), Monday 12 h (not).
FRIDAY = day(7, 7)[2:]  # 5 h sleep, 17 h light
SATURDAY = day(7, 3, off=3)  # 7 h sleep, 14 h light
SUNDAY = day(7, 3, gap=4)  # 7 h sleep, 13 h light
MONDAY = day(7, 5)[:12]  # 7 h sleep, 5 h light
WEEKEND = ["2024-03-01 02:00", [*FRIDAY, *SATURDAY, *SUNDAY, *MONDAY]]


def cohort(tmp_path, tables, **options) -> pd.DataFrame:
    """summarise's cohort table of `tables` (name: table), written as parquet files."""
    paths = {}
    for name, table in tables.items():
        paths[name] = tmp_path / f"{name}.parquet"
        table.to_parquet(paths[name], index=False)
    summarise(paths, *(tmp_path / name for name in OUTPUTS), not_read={}, **options)
    return pd.read_csv(tmp_path / "cohort.csv", keep_default_na=False, na_values=[""])


def test_a_recordings_valid_days_and_their_mean_hours(tmp_path):
    table = hourly(*WEEKEND, name="wrist.cwa", **DEVICE)
    row = cohort(tmp_path, {"wrist": table}).iloc[0]
    assert (row.device_type, str(row.device_serial)) == ("AX3", "42")
    assert row.start == "2024-03-01 02:00:00"
    assert (row.days_recorded, row.valid_days) == (4, 2)
    assert (row.valid_weekdays, row.valid_weekend_days) == (1, 1)  # Friday; Saturday
    assert row.hours_worn == 22 + 21 + 20 + 12
    assert row.hours_non_wear == 3
    assert (row.hours_sleep_per_day, row.hours_light_per_day) == ((5 + 7) / 2, (17 + 14) / 2)
    assert (row.hours_sleep_per_weekday, row.hours_light_per_weekday) == (5, 17)
    assert (row.hours_sleep_per_weekend_day, row.hours_light_per_weekend_day) == (7, 14)
    assert not row.calibration_applied and np.isnan(row.calibration_error_before_mg)
    assert pd.isna(row.failure) and row.windows == 75 + 3
    # The summary marks the valid days complete.
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary.complete.tolist() == [True, True, False, False]


def test_the_valid_day_hours_are_a_setting(tmp_path):
    table = hourly(*WEEKEND, name="wrist.csv")
    row = cohort(tmp_path, {"wrist": table}, valid_day_hours=22).iloc[0]
    assert (row.valid_days, row.valid_weekdays, row.valid_weekend_days) == (1, 1, 0)
    assert (row.hours_sleep_per_day, row.hours_light_per_day) == (5, 17)
    assert np.isnan(row.hours_sleep_per_weekend_day) and np.isnan(row.hours_light_per_weekend_day)
    assert pd.isna(row.device_type)  # a CSV recording has no device


def test_a_recording_without_a_valid_day_and_one_that_failed(tmp_path):
    short = hourly("2024-03-02 20:00", ["sleep"] * 6, name="short.csv")  # Saturday night
    failed = pd.DataFrame({"window_start": pd.Series([], dtype="datetime64[ns]")})
    failed.attrs = {"recording": "recordings/bad.csv", "error": "recordings/bad.csv: no z"}
    table = cohort(tmp_path, {"bad": failed, "short": short}).set_index("recording")
    assert table.loc["bad", "failure"] == "recordings/bad.csv: no z"
    assert table.loc["bad"].drop(["file", "failure"]).isna().all()
    short = table.loc["short"]
    assert (short.days_recorded, short.valid_days, short.hours_worn) == (2, 0, 6)
    assert short.filter(regex="^hours_.+_per_").isna().all()
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert failures.to_dict("records") == [
        {"recording": "bad", "file": "recordings/bad.csv", "reason": "recordings/bad.csv: no z"}
    ]


def test_a_distribution_across_recordings_leaves_out_those_without_a_value():
    table = pd.DataFrame({"hours_worn": [10.0, 40.0, 20.0, 30.0, np.nan], "valid_days": 2})
    shown = distribution(table, ["hours_worn", "valid_days"], quantiles=(0.25, 0.5))
    assert shown.columns.tolist() == ["column", "recordings", "mean", "min", "25%", "50%", "max"]
    assert shown.iloc[0].tolist() == ["hours_worn", 4, 25.0, 10.0, 17.5, 25.0, 40.0]
    assert shown.iloc[1].tolist() == ["valid_days", 5, 2.0, 2.0, 2.0, 2.0, 2.0]
