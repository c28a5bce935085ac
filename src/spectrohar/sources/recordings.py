"""A recording file of any format the pipeline reads, told by how its name ends: the one place
formats are named (a source folder, predict.recordings and `spectrohar predict` all take them).

A file's id is its name without the format's suffix. A device file's annotations come from the
annotation table beside it (sources.annotations); so may a CSV file's that has no annotation
column of its own.
"""

import dataclasses
import importlib
from pathlib import Path

from spectrohar.errors import DataError
from spectrohar.sources.annotations import read_annotations, sample_annotations

# Each suffix, and the module whose `read(path, max_gap_s) -> cache.windows.Recording` reads it.
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


def suffix(name) -> str | None:
    """The format suffix that file name `name` ends with (None: none), the longest one."""
    return max((s for s in SUFFIXES if name.endswith(s) and name != s), key=len, default=None)


def recording_id(name) -> str | None:
    """The id of a recording file named `name`: the name without its format's suffix (None
    when it has none)."""
    found = suffix(name)
    return None if found is None else name.removesuffix(found)


def read_file(path, annotations, max_gap_s):
    """The recording in the file at `path` (cache.windows.Recording), annotated by the table at
    `annotations` (None: no table) where it names the recording; a device file's steps over
    `max_gap_s` are gaps."""
    path = Path(path)
    reader = importlib.import_module(FORMATS[suffix(path.name)])
    recording = reader.read(path, max_gap_s)
    if annotations is None:
        return recording
    intervals = read_annotations(annotations, None).get(recording_id(path.name))
    if intervals is None:
        return recording
    if recording.annotation.notna().any():
        raise DataError(
            f"{path}: has an annotation column of its own and rows in {annotations}: annotate "
            "it in one place"
        )
    return dataclasses.replace(recording, annotation=sample_annotations(recording.time, intervals))
