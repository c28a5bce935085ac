"""The annotation table beside a folder of device files, whose recordings carry no annotations.

ANNOTATIONS is comma-separated UTF-8 text whose header names `recording`, `start`, `end` and
`annotation`, in any case and order, spaces around names and values ignored; other columns are
ignored. Each row is one interval of one recording (its id: the file's name without suffixes):
the samples from `start` up to, not including, `end` carry `annotation`. Times are the device
clock's, written without a zone offset. A recording's intervals may leave gaps (unannotated) but
not overlap; rows with no value at all are skipped.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from spectrohar.errors import DataError

ANNOTATIONS = "annotations.csv"
COLUMNS = ("recording", "start", "end", "annotation")
EXPECTED = f"{','.join(COLUMNS)}, in any case"
TIMESTAMP = "2016-11-13 02:18:00"  # how a timestamp is written, fractional seconds optional
NOW = ("now", "today")  # read by pandas as the current time, written by no device
SHOWN = 5  # the folder's recordings named where the table names another


def annotation_table(folder) -> str | None:
    """The annotation table of the recordings in `folder`, None where it has none."""
    table = Path(folder) / ANNOTATIONS
    return str(table) if table.is_file() else None


def read_annotations(path, recordings) -> dict[str, pd.DataFrame]:
    """The intervals of each recording the table at `path` names: id -> a table of `start` and
    `end` (datetime64[ns]), `annotation` (str) and `row` (its line in the file), sorted by start.

    `recordings` are the ids of the folder's recordings (None: not checked, as by a job that
    reads one recording, the folder having been checked whole before). A missing column, an
    empty cell, a value that is no timestamp or has a zone offset, an end not after its start,
    a recording not in `recordings` and two intervals of a recording that overlap each stop,
    naming the line(s).
    """
    table = _table(path)
    empty = (table == "").to_numpy()
    if empty.any():
        row, column = np.argwhere(empty)[0]
        unless = (
            ": leave an interval without annotation out of the table"
            if COLUMNS[column] == "annotation"
            else ""
        )
        raise DataError(
            f"{path}: line {table.index[row]}: no value under {COLUMNS[column]!r}{unless}"
        )
    start, end = (_timestamps(path, table, column) for column in ("start", "end"))
    backwards = np.flatnonzero(end.to_numpy() <= start.to_numpy())
    if backwards.size:
        line = table.index[backwards[0]]
        raise DataError(
            f"{path}: line {line}: end {table.end[line]!r} is not after start "
            f"{table.start[line]!r} (an interval holds the samples from start up to end)"
        )
    if recordings is not None:
        _refuse_unknown(path, table, recordings)
    intervals = pd.DataFrame(
        {
            "recording": table.recording,
            "start": start,
            "end": end,
            "annotation": table.annotation,
            "row": table.index,
        }
    ).sort_values(["recording", "start"], kind="stable")
    _refuse_overlaps(path, intervals)
    return {
        recording: group.drop(columns="recording").reset_index(drop=True)
        for recording, group in intervals.groupby("recording", sort=True)
    }


def sample_annotations(time, intervals) -> pd.Series:
    """The annotation of each sample at `time` (datetime64[ns], increasing): that of the interval
    holding it, NA where none does, categorical. `intervals` are one recording's, as
    read_annotations gives them (None: all NA)."""
    if intervals is None:
        intervals = pd.DataFrame({"start": [], "end": [], "annotation": pd.Series([], dtype=str)})
    codes, categories = pd.factorize(intervals["annotation"])
    time = np.asarray(time, "datetime64[ns]")
    # The few interval bounds are found among the many samples, not each sample among the
    # intervals: 40 times faster on 60 M samples. Intervals are sorted and do not overlap, so
    # the bounds run 0, start 0, end 0, start 1, ..., len(time): between them NA (-1), then an
    # interval's annotation, in turn.
    bounds = np.searchsorted(time, intervals[["start", "end"]].to_numpy("datetime64[ns]"))
    runs = np.diff(bounds.ravel(), prepend=0, append=len(time))
    # In the smallest type that holds the codes, as pandas keeps them: a byte a sample.
    values = np.append(np.column_stack([np.full_like(codes, -1), codes]).ravel(), -1)
    sample = np.repeat(values.astype(np.min_scalar_type(-len(categories) - 1)), runs)
    return pd.Series(pd.Categorical.from_codes(sample, categories=categories))


def join_tables(tables, table) -> None:
    """Write the annotation tables `tables` (of different recordings) as one, `table`."""
    pd.concat(
        [pd.read_csv(path, dtype=str, keep_default_na=False) for path in tables], ignore_index=True
    ).to_csv(table, index=False)


def _table(path) -> pd.DataFrame:
    """The table's COLUMNS (str) with spaces around values removed, indexed by line number (the
    header is line 1); rows with no value in any column are left out."""
    try:
        # Without a header row, so that its names come as written and each line is a row;
        # spaces after a comma skipped, so that a quoted value may follow them.
        cells = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: line 1 holds no header (expected {EXPECTED})") from None
    except pd.errors.ParserError as error:
        raise DataError(
            f"{path}: cannot be read as a comma-separated annotation table (an annotation "
            f"holding a comma is quoted): {error}"
        ) from None
    except (ValueError, OSError) as error:
        raise DataError(
            f"{path}: cannot be read as a comma-separated annotation table: {error}"
        ) from None
    names = cells.iloc[0].str.strip().str.lower()
    for name in COLUMNS:
        if (names == name).sum() > 1:
            raise DataError(f"{path}: the header names column {name!r} twice")
    missing = [name for name in COLUMNS if name not in names.values]
    if missing:
        raise DataError(
            f"{path}: no column {' or '.join(map(repr, missing))} in the header "
            f"(expected {EXPECTED})"
        )
    cells = cells.iloc[1:].apply(lambda column: column.str.strip())
    cells.index += 1  # row i of the file is its line i + 1
    cells = cells[(cells != "").any(axis=1)]
    return cells.set_axis(names, axis=1)[list(COLUMNS)].rename_axis("line")


def _timestamps(path, table, column) -> pd.Series:
    """The `column` of `table` as timestamps (datetime64[ns]); a value with a zone offset, or
    that is no timestamp, stops with its line."""
    text = table[column]
    try:
        stamps = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except ValueError:  # offsets mixed with other offsets or with none
        stamps = None
    if stamps is None or stamps.dt.tz is not None:
        line = next(line for line, value in text.items() if _has_offset(value))
        raise DataError(
            f"{path}: line {line}, column {column!r}: {text[line]!r} has a time zone offset, "
            "but the table's times are the device clock's, written without one"
        )
    bad = stamps.isna() | text.isin(NOW)
    bad |= (stamps < pd.Timestamp.min) | (stamps > pd.Timestamp.max)  # out of datetime64[ns]
    if bad.any():
        line = bad.idxmax()
        raise DataError(
            f"{path}: line {line}, column {column!r}: {text[line]!r} is not a timestamp like "
            f"{TIMESTAMP!r} (years 1678 to 2261, fractional seconds optional)"
        )
    return stamps.astype("datetime64[ns]")


def _has_offset(value) -> bool:
    stamp = pd.to_datetime(value, format="ISO8601", errors="coerce")
    return stamp is not pd.NaT and stamp.tzinfo is not None


def _refuse_unknown(path, table, recordings) -> None:
    """Stop at the first row naming a recording not in `recordings`, listing the first few."""
    known = sorted(set(recordings))
    unknown = ~table.recording.isin(known)
    if unknown.any():
        line = unknown.idxmax()
        listed = ", ".join(map(repr, known[:SHOWN])) + (", ..." if len(known) > SHOWN else "")
        has = f"has {len(known)}: {listed}" if known else "has none"
        raise DataError(
            f"{path}: line {line}: recording {table.recording[line]!r} is not in the folder, "
            f"which {has}"
        )


def _refuse_overlaps(path, intervals) -> None:
    """Stop at two overlapping intervals of one recording in `intervals` (sorted by recording
    and start), naming both lines."""
    # Sorted by start, intervals that do not overlap end in order too: a neighbour suffices.
    overlap = intervals.recording.eq(intervals.recording.shift()) & (
        intervals.start < intervals.end.shift()
    )
    if overlap.any():
        later = np.argmax(overlap.to_numpy())
        first, second = sorted(intervals.row.iloc[[later - 1, later]])
        raise DataError(
            f"{path}: lines {first} and {second}: two intervals of recording "
            f"{intervals.recording.iloc[later]!r} overlap ({int(overlap.sum())} overlaps in "
            "all); a sample has one annotation"
        )
