"""A recording file of any format the pipeline reads, told by how its name ends: the one place
formats are named (a source folder, predict.recordings and `spectrohar predict` all take them).

A file's id is its name without the format's suffix. A device file's annotations come from the
annotation table beside it (sources.annotations); so may a CSV file's that has no annotation
column of its own.

A file is read in pieces of about PIECE_ROWS samples, so that a week at 100 Hz (60 million
samples) is never in memory at once; the pieces joined are the recording read whole.
"""

import dataclasses
import importlib
import itertools
from collections.abc import Iterator
from pathlib import Path

from spectrohar.cache.recording import Recording
from spectrohar.errors import DataError
from spectrohar.sources.annotations import read_annotations, sample_annotations

# Each suffix, and the module whose `read_pieces(path, max_gap_s, piece_rows)` reads it: the
# recording in consecutive pieces (cache.recording.Recording), of piece_rows rows at most (None:
# one piece; a device file's piece is one block at least).
FORMATS = {
    ".csv.gz": "spectrohar.sources.csvfile",
    ".csv": "spectrohar.sources.csvfile",
    **{
        f"{suffix}{gz}": "spectrohar.sources.devices"
        for suffix in (".cwa", ".gt3x", ".bin")
        for gz in (".gz", "")
    },
}
SUFFIXES = tuple(FORMATS)
PIECE_ROWS = 2_160_000  # samples a piece holds: 6 hours at 100 Hz


def suffix(name) -> str | None:
    """The format suffix that file name `name` ends with (None: none), the longest one."""
    return max((s for s in SUFFIXES if name.endswith(s) and name != s), key=len, default=None)


def recording_id(name) -> str | None:
    """The id of a recording file named `name`: the name without its format's suffix (None
    when it has none)."""
    found = suffix(name)
    return None if found is None else name.removesuffix(found)


def read_pieces(path, annotations, max_gap_s, *, piece_rows=PIECE_ROWS) -> Iterator[Recording]:
    """The recording in the file at `path` in consecutive pieces (cache.recording.Recording)
    of at most `piece_rows` samples (None: one piece; a CSV file's are exactly that but the
    last, a device file's end with one of its blocks), annotated by the table at `annotations`
    (None: no table) where it names the recording; a device file's steps over `max_gap_s` are
    gaps. Every piece has the file's time zone and `device` (None for a CSV file): for a device
    file the whole file's description, its last sample and problems included, on every piece.
    A check fails as it would on the whole file, with the same sentence, at the piece where it
    is found or, for a device file, before the first."""
    path = Path(path)
    reader = importlib.import_module(FORMATS[suffix(path.name)])
    pieces = reader.read_pieces(path, max_gap_s, piece_rows)
    first = next(pieces)  # the file's own refusals come before its table's
    intervals = (
        None
        if annotations is None
        else read_annotations(annotations, None).get(recording_id(path.name))
    )
    for piece in itertools.chain([first], pieces):
        if intervals is not None:
            if piece.annotation.notna().any():
                raise DataError(
                    f"{path}: has an annotation column of its own and rows in {annotations}: "
                    "annotate it in one place"
                )
            piece = dataclasses.replace(piece, annotation=sample_annotations(piece.time, intervals))
        yield piece


def read_file(path, annotations, max_gap_s) -> Recording:
    """The recording in the file at `path` read whole: read_pieces' one piece without a
    bound."""
    (recording,) = read_pieces(path, annotations, max_gap_s, piece_rows=None)
    return recording
