"""Recordings read in pieces (sources.recordings.read_pieces), so that a week never sits whole in
memory: joined, the pieces are the file read whole (read_file) in every format, wherever they
are cut, and every check stops with the sentence it has for the whole file."""

import gzip
import re
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
from test_devices import START, WRITERS, swinging, times

from spectrohar.errors import DataError
from spectrohar.sources.recordings import read_file, read_pieces
from spectrohar.sources.writers import write_bin, write_cwa

SECOND = np.timedelta64(1, "s")
TABLE = "recording,start,end,annotation\nr,{},{},sitting\nr,{},{},walking\n"


def at(seconds):
    return START + np.timedelta64(round(seconds * 1e9), "ns")


def irregular():
    """Sample times of an awkward device: 20 s at exactly 100 Hz (a run of blocks longer than
    a piece), a 5 s gap, 15 s at 97 Hz (every block its own), a bridged 0.4 s gap and 10 s at
    103 Hz (samples past the next block's timestamp)."""
    return np.concatenate(
        [times(20), at(25) + (times(15, 97) - START), at(40.4) + (times(10, 103) - START)]
    )


def write(path, time, rng):
    """The recording at `time` as the file `path` in its format (gzipped where it ends .gz),
    annotated where it is CSV, with a temperature where the format has one."""
    suffix = "." + path.name.split(".")[1]
    acceleration = swinging(time, rng)
    if suffix == ".csv":
        frame = pd.DataFrame(acceleration.round(4), columns=list("xyz"))
        frame.insert(0, "time", pd.DatetimeIndex(time).strftime("%Y-%m-%d %H:%M:%S.%f"))
        frame["annotation"] = np.repeat(["sitting", None, "walking"], -(-len(time) // 3))[
            : len(time)
        ]
        frame.to_csv(path, index=False)
        return path
    keywords = {}
    if suffix == ".gt3x":  # a record holds one second of at most the rate's samples
        time = time[(time - START) % SECOND < np.timedelta64(900, "ms")]
        acceleration = acceleration[: len(time)]
    else:
        keywords["temperature"] = 20 + np.arange(len(time)) / len(time) * 5
    plain = path.with_name(path.name.removesuffix(".gz"))
    WRITERS[suffix](plain, time, acceleration, **keywords)
    if path.suffix == ".gz":
        with open(plain, "rb") as source, gzip.open(path, "wb") as target:
            shutil.copyfileobj(source, target)
        plain.unlink()
    return path


def joined(pieces):
    """The pieces' time, acceleration, temperature and annotation, each joined in one."""
    return {
        "time": np.concatenate([piece.time for piece in pieces]),
        "acceleration": np.concatenate([piece.acceleration for piece in pieces]),
        "temperature": None
        if pieces[0].temperature is None
        else np.concatenate([piece.temperature for piece in pieces]),
        "annotation": np.concatenate(
            [piece.annotation.to_numpy(object, na_value=None) for piece in pieces]
        ),
    }


def assert_read_whole(pieces, whole):
    """`pieces` join to `whole`, each on its time zone and with its device description."""
    got = joined(pieces)
    for name, value in got.items():
        expected = getattr(whole, name)
        if name == "annotation":
            expected = expected.to_numpy(object, na_value=None)
        if expected is None:
            assert value is None, name
        else:
            assert value.dtype == expected.dtype, name
            np.testing.assert_array_equal(value, expected, err_msg=name)
    for piece in pieces:
        assert piece.time_zone == whole.time_zone and piece.device == whole.device


@pytest.mark.parametrize(
    "name", ["r.csv", "r.csv.gz", "r.cwa", "r.cwa.gz", "r.gt3x", "r.bin", "r.bin.gz"]
)
def test_pieces_joined_are_the_file_read_whole_wherever_they_are_cut(tmp_path, rng, name):
    path = write(tmp_path / name, irregular(), rng)
    table = None
    if "csv" not in name:
        table = tmp_path / "annotations.csv"
        table.write_text(TABLE.format(at(3), at(22.5), at(30.2), at(48)))
    whole = read_file(path, table, 1.0)
    assert whole.annotation.notna().any()
    block = {".cwa": 80, ".gt3x": 100, ".bin": 300}.get("." + name.split(".")[1], 1)
    # Fewer samples than a block (a piece a block), and not a multiple of any.
    for piece_rows in (79, 250):
        pieces = list(read_pieces(path, table, 1.0, piece_rows=piece_rows))
        assert len(pieces) > 2 and pieces[-1].device == whole.device
        sizes = [len(piece.time) for piece in pieces]
        if block == 1:
            assert set(sizes[:-1]) == {piece_rows}, sizes
        else:
            assert max(sizes) <= max(piece_rows, block), sizes
        assert_read_whole(pieces, whole)


def test_a_device_whose_blocks_all_keep_the_nominal_rate_is_timed_alike_in_pieces(tmp_path, rng):
    # No step off the nominal one anywhere: the times as read, which a piece cannot tell alone.
    path = write(tmp_path / "r.cwa", times(30), rng)
    whole = read_file(path, None, 1.0)
    assert_read_whole(list(read_pieces(path, None, 1.0, piece_rows=500)), whole)


def offset_csv(path, rng):
    """A CSV recording across Berlin's change from summer time, timestamps with offsets."""
    utc = np.datetime64("2016-10-30T00:59:59", "ns") + np.arange(300) * np.timedelta64(10, "ms")
    hours = np.where(utc < np.datetime64("2016-10-30T01:00"), 2, 1)
    local = pd.DatetimeIndex(utc + hours.astype("timedelta64[h]")).strftime("%Y-%m-%d %H:%M:%S.%f")
    frame = pd.DataFrame(rng.normal(size=(len(utc), 3)).round(3), columns=list("xyz"))
    frame.insert(0, "time", [f"{t}+0{h}:00" for t, h in zip(local, hours, strict=True)])
    frame.to_csv(path, index=False)
    return path


def test_every_piece_of_a_csv_is_on_its_first_timestamps_clock(tmp_path, rng):
    path = offset_csv(tmp_path / "r.csv", rng)
    whole = read_file(path, None, 1.0)
    assert whole.time_zone == "UTC+02:00 (offset of the first timestamp)"
    assert_read_whole(list(read_pieces(path, None, 1.0, piece_rows=70)), whole)


def spliced(path, rng, write_file, skip):
    """A device file of a minute, then the same minute ten minutes earlier: the clock reset
    between its 6000th and 6001st samples. The second is written whole and joined without its
    header: `skip`, its bytes or the line its pages begin with."""
    write_file(path, times(60), swinging(times(60), rng))
    first = path.read_bytes()
    write_file(path, times(60) - 600 * SECOND, swinging(times(60), rng))
    second = path.read_bytes()
    if isinstance(skip, str):  # .bin: the second file's pages, after its header's lines
        skip = second.index(skip.encode())
    path.write_bytes(first + second[skip:])
    return path


@pytest.mark.parametrize(
    ("name", "write_file", "skip"),
    [("r.cwa", write_cwa, 1024), ("r.bin", write_bin, "Recorded Data")],
)
def test_a_device_clock_going_back_between_two_pieces_stops_as_it_does_whole(
    tmp_path, rng, name, write_file, skip
):
    path = spliced(tmp_path / name, rng, write_file, skip)
    with pytest.raises(DataError) as whole:
        read_file(path, None, 1.0)
    sentence = str(whole.value)
    assert re.match(
        rf"{path}: sample 6001: time 2024-03-01T09:50:00.0+ is not after the one before "
        r"\(2024-03-01T10:00:59.99\d+\): the device clock went back",
        sentence,
    )
    read = []
    with pytest.raises(DataError) as pieces:
        for piece in read_pieces(path, None, 1.0, piece_rows=6000):
            read.append(piece)
    assert str(pieces.value) == sentence
    assert [len(piece.time) for piece in read] == [6000]  # the next piece begins at the reset


def damaged_cwa(path, rng):
    """Sectors 2 and 40 damaged, the last one cut short."""
    write(path, irregular(), rng)
    data = bytearray(path.read_bytes())
    for sector in (2, 40):
        data[1024 + sector * 512 + 100] ^= 0xFF
    path.write_bytes(bytes(data[:-300]))


def damaged_bin(path, rng):
    """Page 2's and 9's data and page 5's time unreadable, the last three pages missing."""
    write(path, irregular(), rng)
    lines = path.read_bytes().split(b"\r\n")
    page = lines.index(b"Recorded Data")
    for line in (page + 29, page + 99):
        lines[line] = b"ZZ" + lines[line][2:]
    lines[page + 53] = b"Page Time:garbage"
    path.write_bytes(b"\r\n".join(lines[:-31]) + b"\r\n")


def damaged_gt3x(path, rng, cut=False):
    """Record 37's separator damaged (or, `cut`, log.bin cut inside record 37)."""
    write(path, irregular(), rng)
    with zipfile.ZipFile(path) as archive:
        info, log = archive.read("info.txt"), bytearray(archive.read("log.bin"))
    start = 0
    for _ in range(37):
        start += 9 + int.from_bytes(log[start + 6 : start + 8], "little")
    if cut:
        log = log[: start + 100]
    else:
        log[start] = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("info.txt", info)
        archive.writestr("log.bin", bytes(log))


@pytest.mark.parametrize(
    ("name", "damage", "problems"),
    [
        (
            "r.cwa",
            damaged_cwa,
            [
                "sector 2 (byte offset 2048) failed checksum",
                "sector 40 (byte offset 21504) failed checksum",
                "the file ends 212 bytes into a 512-byte sector (cut short): that sector's "
                "samples are lost",
            ],
        ),
        (
            "r.bin",
            damaged_bin,
            [
                "Invalid hex data 'ZZ",
                # actfast numbers a page by those before it that it did not skip.
                "Invalid datetime 'garbage' at record 4 ",
                "Invalid hex data 'ZZ",
                "4 of the 16 pages its header counts are missing",
            ],
        ),
        (
            "r.gt3x",
            damaged_gt3x,
            ["Failed to parse Actigraph GT3X file at record 37, byte offset "],
        ),
        (
            "r.gt3x",
            lambda path, rng: damaged_gt3x(path, rng, cut=True),
            ["Failed to parse Actigraph GT3X file at record 37, byte offset "],
        ),
    ],
    ids=["cwa", "bin", "gt3x", "gt3x-cut"],
)
def test_what_a_damaged_file_loses_adds_up_over_its_pieces(tmp_path, rng, name, damage, problems):
    path = tmp_path / name
    damage(path, rng)
    whole = read_file(path, None, 1.0)
    found = whole.device["device_problems"]
    assert len(found) == len(problems)
    for sentence, start in zip(found, problems, strict=True):
        assert sentence.startswith(start), found
    for piece_rows in (79, 250):
        assert_read_whole(list(read_pieces(path, None, 1.0, piece_rows=piece_rows)), whole)


def csv_rows(path, rng, change):
    """A CSV recording of 5000 rows at 100 Hz, `change`d (a DataFrame of strings)."""
    frame = pd.DataFrame(rng.normal(size=(5000, 3)).round(3).astype(str), columns=list("xyz"))
    time = START + np.arange(5000) * np.timedelta64(10, "ms")
    frame.insert(0, "time", pd.DatetimeIndex(time).strftime("%Y-%m-%d %H:%M:%S.%f"))
    change(frame)
    frame.to_csv(path, index=False)
    return path


def repeat(frame, *rows):
    for row in rows:
        frame.loc[row, "time"] = frame.loc[row - 1, "time"]


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (lambda f: repeat(f, 1000), r"line 1002: timestamp \S+ repeats the one before \(1 rows"),
        (lambda f: repeat(f, 1000, 3000), r"line 1002: timestamp \S+ repeats .* \(2 rows like"),
        (
            lambda f: f.loc.__setitem__((2000, "time"), f.time[1990]),
            r"line 2002: timestamp \S+ is before the one before \(1 rows like it\)",
        ),
        (
            lambda f: (repeat(f, 100), f.loc.__setitem__((4000, "time"), "")),
            r"line 4002: no timestamp \(1 rows\)$",
        ),
        (
            lambda f: (repeat(f, 100), f.loc.__setitem__((4500, "x"), "abc")),
            r"line 4502, column 'x': 'abc' is not a number$",
        ),
    ],
    ids=["repeat-at-a-cut", "repeats-in-two-pieces", "back-at-a-cut", "no-time-later", "value"],
)
def test_a_csv_check_stops_pieces_as_it_stops_the_whole_file(tmp_path, rng, change, sentence):
    # Problems in other pieces than the first, or at their first row: the sentence of the whole
    # file, a missing timestamp before a repeated one, a bad value before either.
    path = csv_rows(tmp_path / "r.csv", rng, change)
    with pytest.raises(DataError, match=rf"^{path}: {sentence}") as whole:
        read_file(path, None, 1.0)
    for piece_rows in (1000, 1999):
        with pytest.raises(DataError) as pieces:
            list(read_pieces(path, None, 1.0, piece_rows=piece_rows))
        assert str(pieces.value) == str(whole.value)


def test_a_csv_annotated_in_a_later_piece_and_in_the_table_stops(tmp_path, rng):
    path = csv_rows(tmp_path / "r.csv", rng, lambda f: f.insert(4, "annotation", None))
    text = path.read_text().splitlines()
    text[4000] += "walking"
    path.write_text("\n".join(text) + "\n")
    table = tmp_path / "annotations.csv"
    table.write_text(TABLE.format(at(1), at(2), at(3), at(4)))
    sentence = f"{path}: has an annotation column of its own and rows in {table}"
    with pytest.raises(DataError, match=sentence):
        read_file(path, table, 1.0)
    read = []
    with pytest.raises(DataError, match=sentence):
        for piece in read_pieces(path, table, 1.0, piece_rows=1000):
            read.append(piece)
    assert len(read) == 3 and (read[0].annotation == "sitting").sum() == 100


@pytest.mark.parametrize(
    ("step", "what"), [(0, "repeats the one before"), (-1, "is before the one before")]
)
def test_a_csv_problem_is_counted_over_the_whole_file_across_its_batches(tmp_path, step, what):
    # Every timestamp after the first repeats (or precedes) the one before: over 100000 rows,
    # several of the reader's batches of a megabyte, none is missed where one ends.
    time = START + np.arange(100_000) * step * np.timedelta64(10, "ms")
    text = "".join(f"{t},0,0,1\n" for t in pd.DatetimeIndex(time).strftime("%Y-%m-%d %H:%M:%S.%f"))
    path = tmp_path / "r.csv"
    path.write_text("time,x,y,z\n" + text)
    sentence = rf"^{path}: line 3: timestamp \S+ {what} \(99999 rows like it\)"
    with pytest.raises(DataError, match=sentence):
        read_file(path, None, 1.0)
    with pytest.raises(DataError, match=sentence):
        list(read_pieces(path, None, 1.0, piece_rows=30_001))
