"""The readers of anyone's recordings: file names, headers, time zones, processed_data's T.npy."""

import dataclasses
import gzip
import os
import types

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import write_recording
from test_windows import START, WINDOWS, build_store, processed_data

from spectrohar import settings
from spectrohar.cache.recording import Recording, Spill
from spectrohar.errors import DataError
from spectrohar.sources import capture24, csvfile, npy
from spectrohar.sources.labels import PACKAGED_DICTIONARY, labelling

MS = np.timedelta64(1, "ms")


def source(folder):
    return settings.section(
        "source",
        {
            "kind": "capture24",
            "path": str(folder),
            "participants": [],
            "on_error": "stop",
            "calibrate": "auto",
        },
    )


def folder_ids(folder):
    return capture24.participants(folder_settings(folder))


def folder_settings(folder):
    return types.SimpleNamespace(source=source(folder))


def test_every_csv_and_csv_gz_is_a_recording_but_the_dictionary_and_metadata(tmp_path):
    for name in ("P001.csv.gz", "wrist_42.csv", "site-A.P7.csv.gz", "2016-11-13.csv"):
        (tmp_path / name).write_text(name)  # only listed, never read here
    for name in ("annotation-label-dictionary.csv", "metadata.csv", "notes.txt", "P002.csv.bak"):
        (tmp_path / name).write_text(f"not a recording: {name}")
    assert folder_ids(tmp_path) == ["2016-11-13", "P001", "site-A.P7", "wrist_42"]


def test_one_id_as_csv_and_csv_gz_is_refused_naming_both(tmp_path):
    (tmp_path / "P001.csv").write_text("plain")
    (tmp_path / "P001.csv.gz").write_text("compressed")
    with pytest.raises(
        DataError,
        match=rf"^{tmp_path}/P001.csv and {tmp_path}/P001.csv.gz are each a recording of "
        r"participant 'P001': keep one$",
    ):
        folder_ids(tmp_path)


def test_inputs_name_whichever_file_exists_and_the_annotation_table(tmp_path):
    for name in ("P001.csv", "P002.csv.gz", "P003.cwa.gz", "P003.x.csv"):
        (tmp_path / name).write_text(name)
    for participant, name in (
        ("P001", "P001.csv"),
        ("P002", "P002.csv.gz"),
        ("P003", "P003.cwa.gz"),
    ):
        assert capture24.inputs(folder_settings(tmp_path), participant) == {
            "recording": f"{tmp_path}/{name}"
        }
    (tmp_path / "annotations.csv").write_text("recording,start,end,annotation\n")
    assert capture24.inputs(folder_settings(tmp_path), "P001") == {
        "recording": f"{tmp_path}/P001.csv",
        "annotations": f"{tmp_path}/annotations.csv",
    }
    with pytest.raises(DataError, match="holds no recording of participant 'P004'"):
        capture24.inputs(folder_settings(tmp_path), "P004")


def test_header_names_match_in_any_case_in_any_order_and_extra_columns_are_ignored(tmp_path):
    path = tmp_path / "wrist.csv"
    path.write_text(
        "Index,Annotation,Z,Time,Y,X,Temperature\n"
        "0,sleeping,1.0,2016-11-13 02:18:00.000000,0.25,-0.5,21.5\n"
        "1,,0.75,2016-11-13 02:18:00.010000,0.125,0.5,21.5\n"
    )
    time, acceleration, annotation, time_zone = csvfile.read_recording(path)
    np.testing.assert_array_equal(time, [START, START + 10 * MS])
    np.testing.assert_array_equal(acceleration, [[-0.5, 0.25, 1.0], [0.5, 0.125, 0.75]])
    assert annotation.iloc[0] == "sleeping" and pd.isna(annotation.iloc[1])
    assert time_zone == "as written (no offset)"


def test_a_recording_without_annotations_is_read_as_unannotated(tmp_path, rng):
    acceleration = rng.normal(size=(7000, 3))
    path = write_recording(tmp_path / "P001.csv", "2016-11-13 02:18:00", acceleration, None)
    path.write_text(
        "\n".join(",".join(line.split(",")[:4]) for line in path.read_text().splitlines()) + "\n"
    )
    assert path.read_text().startswith("time,x,y,z\n")
    time, read, annotation, _ = csvfile.read_recording(path)
    assert len(annotation) == 7000 and annotation.isna().all()

    build_store(path, tmp_path / "P001.zarr", "P001")
    ds = xr.open_zarr(tmp_path / "P001.zarr")
    assert list(ds.annotation.values) == ["", ""]  # 7000 samples: two whole 30 s windows
    assert ds.attrs["windows_unannotated"] == 2
    assert ds.attrs["windows_dropped"] == {"incomplete": 1, "nan": 0, "infinite": 0}
    assert ds.attrs["hours_recorded"] == pytest.approx(70 / 3600)
    assert ds.attrs["hours_annotated"] == 0


def offset_recording(path, utc, offsets, rng):
    """A recording at the instants `utc` written as local times with their `offsets`."""
    local = pd.DatetimeIndex(utc + offsets.astype("timedelta64[m]"))
    signs = np.where(offsets < 0, "-", "+")
    hours, minutes = np.divmod(np.abs(offsets), 60)
    written = [
        f"{t}{s}{h:02d}:{m:02d}"
        for t, s, h, m in zip(
            local.strftime("%Y-%m-%d %H:%M:%S.%f"), signs, hours, minutes, strict=True
        )
    ]
    frame = pd.DataFrame(rng.normal(size=(len(utc), 3)) * 0.1 + [0, 0, 1], columns=list("xyz"))
    frame.insert(0, "time", written)
    frame["annotation"] = "sleeping"
    frame.to_csv(path, index=False)
    return path


def test_offsets_put_times_on_the_first_timestamps_clock_across_a_dst_change(tmp_path, rng):
    # Berlin leaves summer time at 01:00 UTC on 2016-10-30: 02:59:59.99+02:00 is followed by
    # 02:00:00.00+01:00. On the first timestamp's clock (+02:00) times keep increasing.
    utc = np.datetime64("2016-10-30T00:59:00", "ns") + np.arange(12000) * 10 * MS
    offsets = np.where(utc < np.datetime64("2016-10-30T01:00"), 120, 60)
    path = offset_recording(tmp_path / "P001.csv", utc, offsets, rng)
    assert "2016-10-30 02:00:00.000000+01:00" in path.read_text()

    time, _, _, time_zone = csvfile.read_recording(path)
    np.testing.assert_array_equal(time, utc + np.timedelta64(2, "h"))
    assert time_zone == "UTC+02:00 (offset of the first timestamp)"

    build_store(path, tmp_path / "P001.zarr", "P001")
    ds = xr.open_zarr(tmp_path / "P001.zarr")
    starts = ds.window_start.values
    np.testing.assert_array_equal(
        starts, np.datetime64("2016-10-30T02:59:00") + np.arange(4) * np.timedelta64(30, "s")
    )
    assert ds.attrs["time_zone"] == "UTC+02:00 (offset of the first timestamp)"


@pytest.mark.parametrize(
    ("written", "expected", "time_zone"),
    [
        ("2016-11-13T02:18:00.000Z", "2016-11-13T02:18", "UTC"),
        ("2016-11-13 02:18:00-0330", "2016-11-13T02:18", "UTC-03:30"),
    ],
    ids=["Z", "negative"],
)
def test_any_written_offset_is_accepted(tmp_path, written, expected, time_zone):
    path = tmp_path / "P001.csv"
    path.write_text(f"time,x,y,z\n{written},0,0,1\n")
    time, _, _, read_zone = csvfile.read_recording(path)
    assert time[0] == np.datetime64(expected, "ns")
    assert read_zone == f"{time_zone} (offset of the first timestamp)"


def test_counts_are_the_files_before_resampling_and_gaps_are_not_recorded(tmp_path, rng):
    # 60 s at 100 Hz, an hour's gap, 30 s more; the first 45 s annotated.
    time = START + np.arange(9000) * 10 * MS
    time[6000:] += np.timedelta64(1, "h")
    path = tmp_path / "P001.csv"
    frame = pd.DataFrame(rng.normal(size=(9000, 3)) * 0.1 + [0, 0, 1], columns=list("xyz"))
    frame.insert(0, "time", pd.DatetimeIndex(time).strftime("%Y-%m-%d %H:%M:%S.%f"))
    frame["annotation"] = ["a"] * 4500 + [None] * 4500
    frame.to_csv(path, index=False)

    build_store(path, tmp_path / "P001.zarr", "P001", resample=True, sample_rate=50)
    ds = xr.open_zarr(tmp_path / "P001.zarr")
    assert ds.attrs["rows_read"] == 9000
    assert ds.attrs["hours_recorded"] == pytest.approx(90 / 3600)
    assert ds.attrs["hours_annotated"] == pytest.approx(45 / 3600)
    assert ds.acceleration.shape[1] == 1500  # cut at 50 Hz


@pytest.mark.parametrize("cut", [None, 1, 3, 4])
def test_recorded_hours_count_steps_up_to_twice_the_median(cut, tmp_path):
    # Steps 10, 15, 10, 965 (a gap: one median step), 10, and one median step after the last,
    # the same wherever the recording is cut in pieces.
    time = START + np.array([0, 10, 25, 35, 1000, 1010]) * MS
    annotation = pd.Series(pd.Categorical(["a", "a", None, "a", None, "a"]))
    pieces = [slice(None)] if cut is None else [slice(None, cut), slice(cut, None)]
    spill = Spill.write(
        tmp_path,
        [
            Recording(time[part], np.zeros((len(time), 3), np.float32)[part], annotation[part])
            for part in pieces
        ],
    )
    assert spill.median_step == 10e6
    assert spill.hours_recorded * 3.6e6 == pytest.approx(10 + 15 + 10 + 10 + 10 + 10)
    assert spill.hours_annotated * 3.6e6 == pytest.approx(10 + 15 + 10 + 10)


def test_processed_data_cut_under_other_settings_is_refused_saying_they_overlap(tmp_path, rng):
    # 30 s windows of 3000 samples at 100 Hz, configured as 60 s at 50 Hz (also 3000 samples).
    still = np.tile(np.float32([0, 0, 1]), (10, 3000, 1))
    folder = processed_data(tmp_path, still, ["P001"] * 10, rng)
    wrong = dataclasses.replace(WINDOWS, length_s=60, sample_rate=50)
    with pytest.raises(
        DataError,
        match=rf"^{folder}/T.npy: participant 'P001''s windows start 30 s apart \(the most "
        r"common step\), less than windows.length_s 60 s \(windows.step_s is unset\), so its "
        r"3000-sample windows of 60 s at windows.sample_rate 50 Hz overlap; set "
        r"windows.step_s: 30 to take them as overlapping windows 30 s apart \(if they do not "
        r"overlap, windows.length_s and windows.sample_rate do not describe them\)$",
    ):
        npy.window_arrays(folder, "P001", wrong)
    npy.window_arrays(folder, "P001", WINDOWS)  # the settings that describe them


def test_processed_data_with_half_overlapping_windows_is_taken_with_their_step(tmp_path, rng):
    # 30 s windows of 3000 samples at 100 Hz starting every 15 s: 50% overlap.
    still = np.tile(np.float32([0, 0, 1]), (10, 3000, 1))
    folder = processed_data(tmp_path, still, ["P001"] * 10, rng)
    np.save(folder / "T.npy", START + np.arange(10) * np.timedelta64(15, "s"))
    with pytest.raises(DataError, match=r"windows start 15 s apart .* set windows.step_s: 15 "):
        npy.window_arrays(folder, "P001", WINDOWS)
    ds = npy.window_arrays(folder, "P001", dataclasses.replace(WINDOWS, step_s=15))
    assert ds.sizes["window"] == 10 and ds.attrs["window_step_s"] == 15
    # The union of the windows: 0 s to 9 * 15 + 30 s, not ten windows' 300 s.
    assert ds.attrs["hours_recorded"] == pytest.approx(165 / 3600)
    # A step longer than the data's is refused too: the windows overlap more than it says.
    with pytest.raises(DataError, match=r"less than windows.step_s 20 s, so .* set windows.step_s"):
        npy.window_arrays(folder, "P001", dataclasses.replace(WINDOWS, step_s=20))


def test_a_repeated_start_is_refused_naming_the_participant_and_time(tmp_path, rng):
    folder = processed_data(
        tmp_path, np.zeros((6, 3000, 3), np.float32), ["P001"] * 3 + ["P002"] * 3, rng
    )
    start = np.load(folder / "T.npy")
    start[5] = start[3]  # P002's third window starts with its first
    np.save(folder / "T.npy", start)
    with pytest.raises(
        DataError,
        match=rf"^{folder}/T.npy: participant 'P002' has two windows starting at "
        r"2016-11-13T02:19:30.000000000 \(1 repeated starts\)",
    ):
        npy.read_processed(folder, WINDOWS)


def test_processed_data_hours_are_the_union_of_its_windows(tmp_path, rng):
    # Starts (s, in any order) 0, 30, 60, 90, 100 and, after a gap, 300: the modal step is the
    # window length, so gaps and one overlap pass; covered: 0-130 and 300-330, 160 s.
    seconds = np.array([90, 0, 300, 60, 100, 30])
    still = np.tile(np.float32([0, 0, 1]), (6, 3000, 1))
    folder = processed_data(tmp_path, still, ["P1"] * 6, rng)
    np.save(folder / "T.npy", START + seconds * np.timedelta64(1, "s"))
    ds = npy.window_arrays(folder, "P1", WINDOWS)
    assert ds.attrs["hours_recorded"] == ds.attrs["hours_annotated"] == pytest.approx(160 / 3600)
    assert ds.attrs["rows_read"] == 6


def test_header_names_and_values_with_surrounding_spaces_are_read(tmp_path):
    path = tmp_path / "P001.csv"
    # After a byte-order mark, as some spreadsheets write; a cell of spaces is an empty one.
    path.write_text(
        "\ufeff X , Time, Y, Z, Annotation\n"
        " 0.5, 2016-11-13 02:18:00.000000 , -0.25 , 1, sitting\n"
        "0.5 , 2016-11-13 02:18:00.010000,  ,1 ,\n"
    )
    time, acceleration, annotation, _ = csvfile.read_recording(path)
    np.testing.assert_array_equal(time, [START, START + 10 * MS])
    np.testing.assert_array_equal(acceleration, [[0.5, -0.25, 1.0], [0.5, np.nan, 1.0]])
    # Kept as written; the labels match annotations with surrounding spaces removed.
    assert annotation.iloc[0] == " sitting" and pd.isna(annotation.iloc[1])


def rows(n, start=0):
    """`n` lines of a recording at 100 Hz, the first `start` rows after START."""
    time = pd.DatetimeIndex(START + np.arange(start, start + n) * 10 * MS)
    return "".join(f"{t},0.1,0.2,0.9,sitting\n" for t in time.strftime("%Y-%m-%d %H:%M:%S.%f"))


HEADER = "time,x,y,z,annotation\n"
FAR = 100_000  # rows: several of the reader's pieces


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + rows(FAR) + rows(1, FAR).replace("0.2", "abc"),
            r"line 100002, column 'y': 'abc' is not a number$",
        ),
        (
            HEADER + rows(FAR) + rows(1, FAR).replace("00,", "00+01:00,"),
            r"line 100002, column 'time': '2016-11-13 02:34:40.000000\+01:00' has a time zone "
            r"offset, but the first timestamp '2016-11-13 02:18:00.000000' has none",
        ),
        (
            HEADER + rows(FAR) + rows(1, FAR - 1),
            r"line 100002: timestamp 2016-11-13T02:34:39.990000000 repeats",
        ),
        (
            HEADER + rows(FAR) + "x" * 3_000_000,
            r"line 100002 is longer than 1 MiB: not a CSV recording$",
        ),
        (
            HEADER + rows(FAR) + rows(1, FAR).replace("sitting", "caf\udce9") + rows(1, FAR + 1),
            r"is not CSV text: a line after line \d+ holds bytes that are no UTF-8",
        ),
        ("a" * 3_000_000, r"line 1 is longer than 1 MiB: not a CSV recording$"),
        (HEADER + "a" * 3_000_000, r"line 2 is longer than 1 MiB: not a CSV recording$"),
    ],
    ids=[
        "non-numeric",
        "offset-after-none",
        "duplicate",
        "long-line",
        "no-utf8",
        "long-header",
        "long-first-row",
    ],
)
def test_bad_lines_far_into_a_recording_are_placed(tmp_path, text, message):
    path = tmp_path / "P001.csv"
    path.write_bytes(text.encode(errors="surrogateescape"))  # \udce9: the byte 0xe9, no UTF-8
    with pytest.raises(DataError, match=rf"^{path}: {message}"):
        csvfile.read_recording(path)
    # Read in pieces cut inside the reader's batches: the same line, counted from the start.
    with pytest.raises(DataError, match=rf"^{path}: {message}"):
        list(csvfile.read_pieces(path, None, 30_001))


def test_a_recording_read_in_pieces_is_the_whole_file(tmp_path, rng):
    # Annotations change across the reader's pieces, each piece with its own categories.
    annotation = np.repeat(["sitting", None, "walking", "7030 sleeping;MET 0.95"], 60_000)
    acceleration = rng.normal(size=(len(annotation), 3))
    path = write_recording(
        tmp_path / "P001.csv.gz", "2016-11-13 02:18:00", acceleration, annotation
    )
    time, read, labels, _ = csvfile.read_recording(path)
    np.testing.assert_array_equal(time, START + np.arange(len(annotation)) * 10 * MS)
    np.testing.assert_array_equal(read, acceleration.astype(np.float32))
    np.testing.assert_array_equal(labels.astype(object).where(labels.notna(), None), annotation)
    # In pieces of rows cut across the batches: each exactly so long but the last.
    pieces = list(csvfile.read_pieces(path, None, 100_003))
    assert [len(piece.time) for piece in pieces] == [100_003, 100_003, 39_994]
    np.testing.assert_array_equal(np.concatenate([piece.time for piece in pieces]), time)
    np.testing.assert_array_equal(np.concatenate([piece.acceleration for piece in pieces]), read)
    np.testing.assert_array_equal(
        np.concatenate([piece.annotation.to_numpy(object, na_value=None) for piece in pieces]),
        annotation,
    )


def test_a_gzip_of_nul_bytes_is_not_csv_text_and_stops_at_once(tmp_path):
    path = tmp_path / "P001.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        for _ in range(64):
            f.write(bytes(1 << 20))  # 64 MiB of NUL bytes in about 64 KiB
    with pytest.raises(DataError, match=rf"^{path}: is not CSV text: byte 1 is a NUL byte"):
        csvfile.read_recording(path)


def test_text_that_is_not_utf8_is_not_csv_text(tmp_path):
    path = tmp_path / "P001.csv"
    path.write_bytes(HEADER.encode() + "2016-11-13 02:18:00,0,0,1,café\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"^{path}: is not CSV text: byte 52 is not UTF-8"):
        csvfile.read_recording(path)


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_device_or_fifo_is_refused_by_name(tmp_path, kind):
    path = tmp_path / "P001.csv"
    if kind == "device":
        path.symlink_to("/dev/zero")
        message = r"is a character device \(a link to /dev/zero\), not a file"
    else:
        os.mkfifo(path)
        message = r"is a FIFO \(named pipe\), not a file"
    with pytest.raises(DataError, match=rf"^{path}: {message}$"):
        folder_ids(tmp_path)
    with pytest.raises(DataError, match=rf"^{path}: {message}$"):
        csvfile.read_recording(path)


def test_processed_data_labels_alike_but_for_case_and_spaces_are_one_class(tmp_path, rng):
    folder = processed_data(
        tmp_path, rng.normal(size=(4, 3000, 3)).astype(np.float32), ["P001"] * 4, rng
    )
    np.save(folder / "Y.npy", np.array(["walking", "Walking ", " walking", "WALKING"]))
    ds = npy.window_arrays(folder, "P001", WINDOWS)
    assert list(ds.annotation.values) == ["walking", "Walking ", " walking", "WALKING"]
    scheme = types.SimpleNamespace(scheme="Willetts2018", unknown="error")
    assert list(labelling(PACKAGED_DICTIONARY, scheme)(ds.annotation.values)) == ["walking"] * 4
