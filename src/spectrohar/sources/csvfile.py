"""A recording as CSV text: `<id>.csv.gz` or `<id>.csv`, Capture-24's format.

A recording's header names `time`, `x`, `y`, `z` and, where it is annotated, `annotation`, in
any case and order, spaces around names and values ignored; other columns are ignored, and a
recording without an annotation column is unannotated. Timestamps are read as written, or, when
they carry a zone offset (or `Z`), on the wall clock of the first timestamp's offset: the
wearer's days stay whole and times keep increasing across a daylight-saving change. A recording
is UTF-8 text, read in pieces of BLOCK bytes, no line longer; what is no CSV text stops at its
first bytes.
"""

import codecs
import csv
import datetime
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from spectrohar.cache.layout import AXES, NO_OFFSET
from spectrohar.cache.recording import Recording
from spectrohar.errors import DataError
from spectrohar.sources import refuse_other_files

GZIP_MAGIC = b"\x1f\x8b"
TIME, ANNOTATION = "time", "annotation"
COLUMNS = {
    TIME: pa.timestamp("ns"),
    # Parsed as float64 then rounded to float32, like numpy and pandas do.
    **dict.fromkeys(AXES, pa.float64()),
    # Dictionary-encoded: ten million rows share a few dozen annotation strings.
    ANNOTATION: pa.dictionary(pa.int32(), pa.string()),
}
EXPECTED = f"{','.join(COLUMNS)}, in any case, annotation optional"
# Timestamps with a zone offset are read as instants (UTC), then put on the first one's clock.
WITH_OFFSET = pa.timestamp("ns", tz="UTC")
FIRST_OFFSET = " (offset of the first timestamp)"  # after the offset, in a recording's time zone
_CAST_ERROR = re.compile(
    r"Failed to parse string: '(.*)' as a scalar of type [^:]*"
    r"(?:: (expected no zone offset|expected a zone offset))?"
)
BLOCK = 1 << 20  # bytes read at a time; also the longest line a recording may have


def read_pieces(path, max_gap_s, piece_rows) -> Iterator[Recording]:
    """The recording in the CSV file at `path` in pieces of `piece_rows` rows (None: one
    piece), the last one shorter, each on the recording's time zone (sources.recordings'
    reader; a CSV file's gaps are found when it is cut into windows, so `max_gap_s` is not
    needed here). A value that does not convert stops at the piece that holds it; a timestamp
    missing or not after the one before stops once the whole file is read, told as a reading
    of the whole file tells it."""
    path = Path(path)
    refuse_other_files(path)
    if path.suffix == ".gz" and path.is_file():
        with open(path, "rb") as f:
            if f.read(2) not in (GZIP_MAGIC, b""):
                raise DataError(
                    f"{path}: is named .gz but is not gzip-compressed "
                    "(compress it, or drop the .gz from its name)"
                )
    try:
        names = _column_names(path, _header(path))  # ours -> the file's
        yield from _pieces(path, names, sys.maxsize if piece_rows is None else piece_rows)
    except (pa.ArrowException, OSError, EOFError, csv.Error) as error:
        raise DataError(f"{path}: cannot be read as a Capture-24 recording: {error}") from None


def read_recording(path) -> tuple[np.ndarray, np.ndarray, pd.Series, str]:
    """Time (datetime64[ns], increasing), acceleration (n, 3) float32 as written and annotation
    (categorical, NA where unannotated, all NA without an annotation column) of one recording
    file, and the time zone of its times: NO_OFFSET, or the first timestamp's offset (the
    whole file as read_pieces' one piece)."""
    (recording,) = read_pieces(path, None, None)
    return recording.time, recording.acceleration, recording.annotation, recording.time_zone


def time_offset(time_zone) -> datetime.timedelta | None:
    """The zone offset of the clock that read_recording's `time_zone` names (None: NO_OFFSET),
    so that its times less the offset are UTC."""
    if time_zone == NO_OFFSET:
        return None
    name = time_zone.removesuffix(FIRST_OFFSET)  # datetime.timezone's: UTC, UTC+01:00, ...
    if name == "UTC":
        return datetime.timedelta(0)
    return datetime.datetime.strptime(name, "UTC%z").utcoffset()


def _header(path) -> list[str]:
    """The header of a recording file, read from its first BLOCK bytes (decompressed): a file
    that is empty, holds NUL bytes or is no UTF-8 text, or whose header is longer, stops."""
    with pa.input_stream(path, compression="detect") as stream:
        start = stream.read(BLOCK + 1)
    nul = start.find(b"\0")
    if nul >= 0:
        raise DataError(
            f"{path}: is not CSV text: byte {nul + 1} is a NUL byte (binary data, or UTF-16 "
            "text; a recording is UTF-8 text)"
        )
    try:
        # Not final: a character cut at the end of the piece is no error.
        text = codecs.getincrementaldecoder("utf-8")().decode(start).removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: is not CSV text: byte {error.start + 1} is not UTF-8 (a recording is "
            "UTF-8 text)"
        ) from None
    if len(start) > BLOCK and not re.search(r"[\r\n]", text):
        raise DataError(_too_long(path, 1))
    header = next(csv.reader(io.StringIO(text)), None)
    if header is None:
        raise DataError(f"{path}: is empty (a recording's header names {EXPECTED})")
    return header


def _too_long(path, line) -> str:
    return f"{path}: line {line} is longer than {BLOCK >> 20} MiB: not a CSV recording"


def _column_names(path, header) -> dict[str, str]:
    """Our column names -> the header's, matched in any case with surrounding spaces removed;
    a missing or repeated one stops."""
    names = {}
    for name in header:
        ours = name.strip().lower()
        if ours in COLUMNS:
            if ours in names:
                raise DataError(
                    f"{path}: the header names column {ours!r} twice ({names[ours]!r} and {name!r})"
                )
            names[ours] = name
    missing = [name for name in COLUMNS if name not in names and name != ANNOTATION]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} in the header (expected {EXPECTED})")
    return names


def _pieces(path, names, piece_rows) -> Iterator[Recording]:
    """The recording at `path`, its columns `names` (ours -> the file's), in pieces of
    `piece_rows` rows joined from its batches as they are converted; a piece is yielded once
    its timestamps are checked, nothing after a problem."""
    check = TimeCheck(path)
    held, rows, time_zone, yielded = [], 0, NO_OFFSET, False
    for *batch, time_zone in _batches(path, names):
        check.add(batch[0])
        if check.failed:
            continue  # read on: a later line may hold a problem told before this one
        held.append(batch)
        rows += len(batch[0])
        if rows >= piece_rows:
            time, acceleration, annotation = _joined(held)
            whole = rows // piece_rows * piece_rows
            for start in range(0, whole, piece_rows):
                yield _piece(time, acceleration, annotation, start, piece_rows, time_zone)
            # A copy of the rest: the pieces alone hold the joined rows.
            held = [(time[whole:].copy(), acceleration[whole:].copy(), annotation[whole:])]
            rows, yielded = rows - whole, True
    check.stop()
    if rows or not yielded:
        yield _piece(*_joined(held), 0, rows, time_zone)


def _batches(path, names) -> Iterator[tuple[np.ndarray, np.ndarray, pa.Array, str]]:
    """The recording at `path`, its columns `names` (ours -> the file's), converted BLOCK bytes
    at a time: time, acceleration, annotation (dictionary-encoded; null without the column)
    and the time zone of its times."""
    types = {name: pa.string() for name in names.values()}  # converted below, spaces removed
    if ANNOTATION in names:
        types[names[ANNOTATION]] = COLUMNS[ANNOTATION]
    options = pacsv.ConvertOptions(
        column_types=types, include_columns=list(types), strings_can_be_null=True
    )
    rows = 0
    try:
        with pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(block_size=BLOCK), convert_options=options
        ) as reader:
            for batch in reader:
                if rows == 0:
                    first = batch[names[TIME]]
                    first_time = (first[0].as_py() or "").strip() if len(first) else ""
                    offset = _zone_offset(first_time)
                    to = {TIME: COLUMNS[TIME] if offset is None else WITH_OFFSET}
                    to |= {axis: COLUMNS[axis] for axis in AXES}
                    # With an offset: the instants, in UTC, put on the first one's clock.
                    shift = np.timedelta64(offset or datetime.timedelta(0))
                    time_zone = (
                        NO_OFFSET
                        if offset is None
                        else f"{datetime.timezone(offset)}{FIRST_OFFSET}"
                    )
                converted = {
                    ours: _converted(
                        path, batch[names[ours]], names[ours], to[ours], rows + 2, first_time
                    ).to_numpy(zero_copy_only=False)
                    for ours in to
                }
                yield (
                    converted[TIME] + shift,
                    np.stack([converted[axis].astype(np.float32) for axis in AXES], axis=1),
                    batch[names[ANNOTATION]]
                    if ANNOTATION in names
                    else pa.nulls(len(batch), COLUMNS[ANNOTATION]),
                    time_zone,
                )
                rows += len(batch)
    except pa.ArrowInvalid as error:
        # The piece that fails starts after the rows read.
        if "straddles" in str(error):
            raise DataError(_too_long(path, rows + 2)) from None
        if "invalid UTF8" in str(error):
            raise DataError(
                f"{path}: is not CSV text: a line after line {rows + 1} holds bytes that are no "
                "UTF-8 (a recording is UTF-8 text)"
            ) from None
        raise


def _joined(batches) -> tuple[np.ndarray, np.ndarray, pa.ChunkedArray]:
    """Time, acceleration and annotation of converted `batches`, each joined in one."""
    times, accelerations, annotations = zip(*batches, strict=True) if batches else ((), (), ())
    return (
        np.concatenate([np.empty(0, "datetime64[ns]"), *times]),
        np.concatenate([np.empty((0, len(AXES)), np.float32), *accelerations]),
        pa.chunked_array(
            [chunk for annotation in annotations for chunk in _chunks(annotation)],
            COLUMNS[ANNOTATION],
        ),
    )


def _chunks(annotation) -> list[pa.Array]:
    return annotation.chunks if isinstance(annotation, pa.ChunkedArray) else [annotation]


def _piece(time, acceleration, annotation, start, rows, time_zone) -> Recording:
    """Rows `start` to `start + rows` of a recording's joined columns, a Recording."""
    stop = start + rows
    return Recording(
        time[start:stop],
        acceleration[start:stop],
        annotation.slice(start, rows).to_pandas(),
        time_zone,
    )


def _zone_offset(timestamp) -> datetime.timedelta | None:
    """The zone offset written in `timestamp`, None if it has none or is no timestamp (the
    reader then says where)."""
    try:
        stamp = pd.Timestamp(timestamp)
    except ValueError:
        return None
    return None if stamp is pd.NaT else stamp.utcoffset()


def _converted(path, column, name, to, line, first_time) -> pa.Array:
    """`column`, strings of the file's column `name` from line `line` on, as type `to`, with
    surrounding spaces removed (a cell of spaces is empty); a value that does not convert
    stops, naming its line."""
    text = pc.utf8_trim_whitespace(column)
    text = pc.if_else(pc.equal(text, ""), None, text)
    try:
        return text.cast(to)
    except pa.ArrowInvalid as error:
        match = _CAST_ERROR.search(str(error))
        if not match:
            raise
    value, problem = match[1], match[2]
    place = f"{path}: line {line + pc.index(text, value).as_py()}, column {name!r}: {value!r}"
    if problem is None:
        expected = (
            "a timestamp like 2016-11-13 02:18:00.000000"
            if pa.types.is_timestamp(to)
            else "a number"
        )
        raise DataError(f"{place} is not {expected}")
    has, first_has = (
        ("has a", "none") if problem == "expected no zone offset" else ("has no", "one")
    )
    raise DataError(
        f"{place} {has} time zone offset, but the first timestamp {first_time!r} has "
        f"{first_has}: a recording's timestamps have an offset each or none"
    )


class TimeCheck:
    """The checks of a recording's timestamps, given them piece by piece in file order: each
    row has one, after the one before. A problem is counted over the whole file, and `stop`
    tells the one a check of the whole file tells: the first row without a timestamp, else the
    first repeating the one before, else the first before it."""

    WRONG = ("repeats the one before", "is before the one before")

    def __init__(self, path):
        self.path, self.rows, self.last = path, 0, None
        self.found = {}  # problem -> its first line, that line's timestamp, rows like it

    @property
    def failed(self) -> bool:
        return bool(self.found)

    def add(self, time) -> None:
        """Check the next rows' `time` (datetime64[ns])."""
        t = time.view("int64")
        step = np.diff(t if self.last is None else np.append(self.last, t))
        later = len(t) - len(step)  # the row of a step's later timestamp, less its index
        for problem, rows in (
            (None, np.flatnonzero(np.isnat(time))),
            (self.WRONG[0], np.flatnonzero(step == 0) + later),
            (self.WRONG[1], np.flatnonzero(step < 0) + later),
        ):
            if rows.size:
                line, at, count = self.found.get(
                    problem, (self.rows + rows[0] + 2, time[rows[0]], 0)
                )
                self.found[problem] = line, at, count + rows.size
        self.rows += len(t)
        self.last = t[-1] if len(t) else self.last

    def stop(self) -> None:
        """Stop at the problem found that a whole file's check tells first, if any."""
        if None in self.found:
            line, _, count = self.found[None]
            raise DataError(f"{self.path}: line {line}: no timestamp ({count} rows)")
        for what in self.WRONG:
            if what in self.found:
                line, at, count = self.found[what]
                raise DataError(
                    f"{self.path}: line {line}: timestamp {at} {what} ({count} rows like it); "
                    "timestamps must increase"
                )
