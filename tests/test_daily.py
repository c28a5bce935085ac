"""Per-day summaries of predictions, against hours worked out by hand."""

import datetime

import numpy as np
import pandas as pd
import pytest

from spectrohar.prediction.daily import NON_WEAR, daily_summary
from spectrohar.sources.labels import NOT_CLASSES

CLASSES = ["sleep", "sedentary", "light"]

# Half-hour windows from 21:15 on 4 March; the 23:45 window crosses midnight; 01:15 and 01:45
# are missing; the 22:15 window is non-wear though predicted light.
TWO_DAYS = [
    ("2024-03-04 21:15", "sedentary", False),
    ("2024-03-04 21:45", "sedentary", False),
    ("2024-03-04 22:15", "light", True),
    ("2024-03-04 22:45", "light", False),
    ("2024-03-04 23:15", "sleep", False),
    ("2024-03-04 23:45", "sleep", False),
    ("2024-03-05 00:15", "sleep", False),
    ("2024-03-05 00:45", "sleep", False),
    ("2024-03-05 02:15", "light", False),
    ("2024-03-05 02:45", "sedentary", False),
]


def summary(rows, window_length_s, **options):
    start, predicted, non_wear = zip(*rows, strict=True)
    return daily_summary(
        pd.DatetimeIndex(list(start)),  # with its time zone, where it has one
        window_length_s,
        np.array(predicted),
        np.array(non_wear),
        CLASSES,
        "P001",
        **options,
    )


def test_two_days_split_at_midnight_with_a_gap_and_non_wear():
    table = summary(TWO_DAYS, 1800)
    # 4 March: nothing until 21:15 (21.25 h), sedentary 21:15-22:15, non-wear 22:15-22:45,
    # light 22:45-23:15, sleep 23:15-24:00. 5 March: sleep 00:00-01:15, the gap 01:15-02:15,
    # light 02:15-02:45, sedentary 02:45-03:15, nothing after (20.75 h).
    want = pd.DataFrame(
        {
            "recording": ["P001", "P001"],
            "date": [datetime.date(2024, 3, 4), datetime.date(2024, 3, 5)],
            "hours_sleep": [0.75, 1.25],
            "hours_sedentary": [1.0, 0.5],
            "hours_light": [0.5, 0.5],
            "hours_non_wear": [0.5, 0.0],
            "hours_no_data": [21.25, 1.0 + 20.75],
            "complete": [False, False],
        }
    )
    pd.testing.assert_frame_equal(table, want, check_dtype=False)


def test_complete_days_need_the_wear_hours():
    # Worn and recorded: 2.25 h on 4 March, 2.25 h on 5 March.
    assert summary(TWO_DAYS, 1800, min_wear_hours=2.25)["complete"].tolist() == [True, True]
    assert summary(TWO_DAYS, 1800, min_wear_hours=2.5)["complete"].tolist() == [False, False]


@pytest.mark.parametrize("non_wear_hours, complete", [(2.5, True), (3.5, False)])
def test_a_whole_day_of_30_s_windows(non_wear_hours, complete):
    # Noon 4 March to noon 7 March, nothing on 6 March; non-wear from 08:00 on 5 March.
    start = pd.date_range("2024-03-04 12:00", "2024-03-07 11:59:30", freq="30s")
    start = start[start.normalize() != pd.Timestamp("2024-03-06")]
    predicted = np.where(start.hour < 7, "sleep", "light")
    off = pd.Timestamp("2024-03-05 08:00")
    non_wear = (start >= off) & (start < off + pd.Timedelta(hours=non_wear_hours))
    table = summary(zip(start, predicted, non_wear, strict=True), 30)

    assert table["date"].tolist() == [datetime.date(2024, 3, d) for d in (4, 5, 6, 7)]
    assert table["hours_no_data"].tolist() == [12.0, 0.0, 24.0, 12.0]
    assert table["hours_sleep"].tolist() == [0.0, 7.0, 0.0, 7.0]
    assert table["hours_light"].tolist() == [12.0, 17.0 - non_wear_hours, 0.0, 5.0]
    assert table["hours_non_wear"].tolist() == [0.0, non_wear_hours, 0.0, 0.0]
    assert table["complete"].tolist() == [False, complete, False, False]
    hours = table.filter(like="hours_").sum(axis=1)
    np.testing.assert_allclose(hours, 24.0, rtol=0, atol=1e-12)


def test_unknown_classes_and_overlapping_windows_are_refused():
    with pytest.raises(ValueError, match="walking"):
        summary([("2024-03-04 21:15", "walking", False)], 30)
    with pytest.raises(ValueError, match="increase"):
        summary(TWO_DAYS[:2], 3600)


def test_no_class_may_be_named_as_the_time_beside_the_classes():
    # The dictionary refuses such labels (labels.NOT_CLASSES): they would share a column here.
    columns = summary(TWO_DAYS, 1800).columns
    beside = {name.removeprefix("hours_") for name in columns if name.startswith("hours_")}
    assert beside - set(CLASSES) == {"non_wear", "no_data"}
    assert {NON_WEAR, "non_wear", "no_data"} == set(NOT_CLASSES)


def test_overlapping_windows_count_each_instant_once():
    # 30 s windows every 15 s from 10:00, the last starting 10:59:45: sleep to 10:30, then
    # light, non-wear 10:45-10:50. Each window stands for its 15 s step: 1 h in all, not 2.
    start = pd.date_range("2024-03-04 10:00", "2024-03-04 10:59:45", freq="15s")
    predicted = np.where(start < pd.Timestamp("2024-03-04 10:30"), "sleep", "light")
    non_wear = (start >= pd.Timestamp("2024-03-04 10:45")) & (
        start < pd.Timestamp("2024-03-04 10:50")
    )
    table = daily_summary(start.values, 15, predicted, non_wear, CLASSES, "P001")
    assert table.hours_sleep.item() == pytest.approx(0.5)
    assert table.hours_light.item() == pytest.approx(25 / 60)
    assert table.hours_non_wear.item() == pytest.approx(5 / 60)
    assert table.hours_no_data.item() == pytest.approx(23)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2024-03-31", 23.0), ("2024-10-27", 25.0)],  # London's clocks go forward, then back
)
def test_the_days_of_a_time_zone_are_its_own(day, hours):
    # 30 s windows from 22:00 the evening before to 06:00 on the day, every instant of it.
    start = pd.date_range(
        pd.Timestamp(day, tz="Europe/London") - pd.Timedelta(hours=2),
        pd.Timestamp(f"{day} 06:00", tz="Europe/London"),
        freq="30s",
        inclusive="left",
    )
    table = summary(zip(start, ["sleep"] * len(start), [False] * len(start), strict=True), 30)
    assert table["date"].tolist() == [
        datetime.date.fromisoformat(day) - datetime.timedelta(1),
        datetime.date.fromisoformat(day),
    ]
    real = (
        start[-1] + pd.Timedelta(seconds=30) - pd.Timestamp(day, tz="Europe/London")
    ) / pd.Timedelta(hours=1)
    assert real == hours - 18  # 00:00 to 06:00 on the clock: 5 h, then 7 h
    assert table["hours_sleep"].tolist() == [2.0, real]
    assert table["hours_no_data"].tolist() == [22.0, hours - real]
    np.testing.assert_allclose(table.filter(like="hours_").sum(axis=1), [24.0, hours])


def test_naive_times_keep_24_hour_days():
    # The same wall-clock times without a zone: the clock change is no day's business.
    start = pd.date_range("2024-03-31 00:00", "2024-03-31 05:59:30", freq="30s")
    table = summary(zip(start, ["sleep"] * len(start), [False] * len(start), strict=True), 30)
    assert table["hours_sleep"].tolist() == [6.0] and table["hours_no_data"].tolist() == [18.0]
