import numpy as np
import pandas as pd
import pytest

from spectrohar.errors import DataError
from spectrohar.sources.annotations import ANNOTATIONS, read_annotations, sample_annotations

HEADER = "recording,start,end,annotation\n"


def table(tmp_path, text):
    """An annotation table holding `text` in a folder of its own."""
    path = tmp_path / ANNOTATIONS
    path.write_text(text)
    return path


def times(*stamps):
    return np.array(stamps, dtype="datetime64[ns]")


def test_intervals_are_read_per_recording_sorted_by_start_with_their_lines(tmp_path):
    path = table(
        tmp_path,
        " Recording , START ,End,ANNOTATION , note\n"
        'P2,2016-11-13 02:20:00,2016-11-13 02:21:00.5,"7030 sleeping;MET 0.95",x\n'
        ' P1 , 2016-11-13 02:18:00 ,2016-11-13 02:19:00, "walking, slowly" ,\n'
        "\n"
        ",,,,\n"
        "P1,2016-11-13 02:10:00,2016-11-13 02:18:00,7030 sleeping;MET 0.95,\n",
    )
    intervals = read_annotations(path, ["P1", "P2", "P3"])
    assert list(intervals) == ["P1", "P2"]
    p1 = intervals["P1"]
    assert list(p1.columns) == ["start", "end", "annotation", "row"]
    assert p1.start.dtype == p1.end.dtype == np.dtype("datetime64[ns]")
    assert p1.start.tolist() == [pd.Timestamp("2016-11-13 02:10"), pd.Timestamp("2016-11-13 02:18")]
    assert p1.annotation.tolist() == ["7030 sleeping;MET 0.95", "walking, slowly"]
    assert p1.row.tolist() == [6, 3]
    assert intervals["P2"].end.tolist() == [pd.Timestamp("2016-11-13 02:21:00.5")]


def test_samples_take_the_annotation_of_the_interval_holding_them_and_gaps_are_na(tmp_path):
    path = table(
        tmp_path,
        HEADER + "P1,2016-11-13 02:00:00,2016-11-13 02:01:00,sitting\n"
        "P1,2016-11-13 02:02:00,2016-11-13 02:03:00,walking\n"
        "P1,2016-11-13 02:03:00,2016-11-13 02:04:00,sitting\n",
    )
    time = times(
        "2016-11-13T01:59:59",  # before the first
        "2016-11-13T02:00:00",  # at a start: in
        "2016-11-13T02:00:59.999999999",
        "2016-11-13T02:01:00",  # at an end, in a gap: out
        "2016-11-13T02:02:00",
        "2016-11-13T02:03:00",  # at an end that is the next one's start
        "2016-11-13T02:04:00",  # after the last
    )
    annotation = sample_annotations(time, read_annotations(path, ["P1"])["P1"])
    assert annotation.dtype == "category"
    assert annotation.astype(object).where(annotation.notna(), None).tolist() == [
        None,
        "sitting",
        "sitting",
        None,
        "walking",
        "sitting",
        None,
    ]


def test_a_recording_without_intervals_is_unannotated(tmp_path):
    path = table(tmp_path, HEADER + "P1,2016-11-13 02:00:00,2016-11-13 02:01:00,sitting\n")
    intervals = read_annotations(path, ["P1", "P2"])
    annotation = sample_annotations(times("2016-11-13T02:00:30", "2016-11-13T02:00:31"), None)
    assert "P2" not in intervals
    assert annotation.dtype == "category" and annotation.isna().all() and len(annotation) == 2


def test_a_million_samples_are_annotated(tmp_path):
    start = np.datetime64("2016-11-13T00:00", "ns")
    time = start + np.arange(1_000_000) * np.timedelta64(10, "ms")
    starts = start + np.arange(0, 10_000, 20) * np.timedelta64(1, "s")  # 10 s in each 20 s
    intervals = pd.DataFrame(
        {
            "start": starts,
            "end": starts + np.timedelta64(10, "s"),
            "annotation": [f"activity {i % 30}" for i in range(len(starts))],
        }
    )
    annotation = sample_annotations(time, intervals)
    assert annotation.notna().sum() == 500_000
    assert annotation[[0, 999, 2_000]].tolist() == ["activity 0", "activity 0", "activity 1"]
    assert annotation[[1_000, 1_999]].isna().all()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "P1,2016-11-13 02:00:00,2016-11-13 02:10:00,a\n"
            "P2,2016-11-13 02:00:00,2016-11-13 02:10:00,a\n"
            "P1,2016-11-13 02:09:59,2016-11-13 02:20:00,b\n",
            r"annotations.csv: lines 2 and 4: two intervals of recording 'P1' overlap",
        ),
        (
            "P1,2016-11-13 02:00:00,2016-11-13 02:10:00,a\n"
            "P9,2016-11-13 02:00:00,2016-11-13 02:10:00,a\n",
            r"annotations.csv: line 3: recording 'P9' is not in the folder, which has 7: "
            r"'P1', 'P2', 'P3', 'P4', 'P5', \.\.\.",
        ),
        (
            "P1,2016-11-13 02:00:00,2016-11-13 02:10:00,a\n"
            "P1,2016-11-13 02:10:00,13/11/2016 03:00,a\n",
            r"annotations.csv: line 3, column 'end': '13/11/2016 03:00' is not a timestamp",
        ),
        (
            "P1,2016-11-13 02:00:00,2916-11-13 02:10:00,a\n",  # beyond datetime64[ns]
            r"annotations.csv: line 2, column 'end': '2916-11-13 02:10:00' is not a timestamp",
        ),
        (
            "P1,now,2016-11-13 02:10:00,a\n",
            r"annotations.csv: line 2, column 'start': 'now' is not a timestamp",
        ),
        (
            "P1,2016-11-13 02:10:00,2016-11-13 02:10:00,a\n",
            r"annotations.csv: line 2: end '2016-11-13 02:10:00' is not after start",
        ),
        (
            "P1,2016-11-13 02:10:00,2016-11-13 02:20:00,a\n"
            "P1,2016-11-13 02:30:00+01:00,2016-11-13 02:40:00+01:00,a\n",
            r"annotations.csv: line 3, column 'start': '2016-11-13 02:30:00\+01:00' has a time "
            "zone offset",
        ),
        (
            "P1,2016-11-13 02:10:00Z,2016-11-13 02:20:00Z,a\n",
            r"annotations.csv: line 2, column 'start': '2016-11-13 02:10:00Z' has a time zone",
        ),
        (
            "P1,2016-11-13 02:10:00,2016-11-13 02:20:00, \n",
            r"annotations.csv: line 2: no value under 'annotation': leave an interval without "
            "annotation out",
        ),
        (
            "P1,2016-11-13 02:10:00,,a\n",
            r"annotations.csv: line 2: no value under 'end'",
        ),
        (
            "P1,2016-11-13 02:10:00,2016-11-13 02:20:00,7030 sleeping, MET 0.95\n",
            r"annotations.csv: cannot be read as a comma-separated annotation table .*line 2",
        ),
    ],
)
def test_bad_rows_are_refused_with_their_lines(tmp_path, rows, message):
    path = table(tmp_path, HEADER + rows)
    with pytest.raises(DataError, match=message):
        read_annotations(path, [f"P{i}" for i in range(1, 8)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("recording,start,stop,annotation\n", r"annotations.csv: no column 'end' in the header"),
        ("recording,start,Start,end,annotation\n", r"names column 'start' twice"),
        ("", r"annotations.csv: line 1 holds no header"),
    ],
)
def test_a_bad_header_is_refused(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_annotations(table(tmp_path, text), ["P1"])
