"""A folder of recordings, Capture-24's layout: `<participant>.csv.gz` (or `.csv`) files and, as
well or instead, device files (`.cwa`, `.gt3x`, `.bin`, each also `.gz`), every format that
sources.recordings reads. Device files carry no annotations: an `annotations.csv` beside them
gives them (sources.annotations), checked whole when the folder is listed. The folder's
dictionary, metadata and annotation table are no recordings.
"""

import hashlib
from collections import defaultdict
from pathlib import Path

import xarray as xr

from spectrohar.cache.windows import window_recording
from spectrohar.errors import DataError
from spectrohar.sources import checked_ids, refuse_copies, refuse_other_files, source_folder
from spectrohar.sources.annotations import ANNOTATIONS, annotation_table, read_annotations
from spectrohar.sources.labels import DICTIONARY
from spectrohar.sources.metadata import METADATA
from spectrohar.sources.recordings import SUFFIXES, read_pieces, recording_id

HEAD = 1 << 20  # bytes of a file compared before the whole of it

NOT_RECORDINGS = {
    DICTIONARY: "the annotation-label dictionary (it labels annotations), no recording",
    METADATA: "the metadata table, no recording",
    ANNOTATIONS: "the annotation table of the folder's recordings, no recording",
}


def participants(settings) -> list[str]:
    """The ids of the folder's recordings, each file's name without its suffix; unusable ids,
    broken links, an id in two files, identical files and an annotation table that does not fit
    the recordings stop."""
    folder = source_folder(settings.source)
    files = recording_files(folder)
    refuse_identical_files(list(files.values()))
    if (folder / ANNOTATIONS).is_file():
        read_annotations(folder / ANNOTATIONS, list(files))
    return sorted(files)


def recording_files(folder) -> dict[str, Path]:
    """The recording files of `folder` by id, checked: a usable id, a regular file, one file
    an id."""
    by_id = defaultdict(list)
    for path in Path(folder).iterdir():
        name = recording_id(path.name)
        if name is not None and path.name not in NOT_RECORDINGS:
            by_id[name].append(path)
    for participant, paths in sorted(by_id.items()):
        checked_ids([participant], paths[0])
        if len(paths) > 1:
            raise DataError(
                f"{' and '.join(str(path) for path in sorted(paths))} are each a recording of "
                f"participant {participant!r}: keep one"
            )
        refuse_other_files(paths[0])
    return {participant: paths[0] for participant, paths in sorted(by_id.items())}


def not_recordings(folder) -> dict[str, str]:
    """Each entry of `folder` that participants() does not take for a recording, hidden ones
    too, with what it is (predict.recordings names them, so that no file there goes unread
    without a word)."""
    found = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name in NOT_RECORDINGS:
            found[str(path)] = NOT_RECORDINGS[path.name]
        elif path.is_dir():
            found[str(path)] = "a folder: recordings are read from the folder itself, not below"
        elif recording_id(path.name) is None:
            found[str(path)] = f"not a recording file (<name> and one of {', '.join(SUFFIXES)})"
    return found


def inputs(settings, participant) -> dict[str, str]:
    """The participant's recording, whatever its format, and the folder's annotation table
    where there is one."""
    folder = Path(settings.source.path)
    paths = (folder / f"{participant}{suffix}" for suffix in SUFFIXES)
    recording = next((str(path) for path in paths if path.exists()), None)
    if recording is None:
        raise DataError(f"{folder}: holds no recording of participant {participant!r}")
    table = annotation_table(folder)
    return {"recording": recording, **({"annotations": table} if table else {})}


def read(inputs, participant, *, source, windows) -> xr.Dataset:
    """The recording's windows, calibrated as `source.calibrate` says, read in pieces."""
    pieces = read_pieces(inputs["recording"], inputs.get("annotations"), windows.max_gap_s)
    return window_recording(inputs["recording"], pieces, windows, calibrate=source.calibrate)


def refuse_identical_files(paths) -> None:
    """Two files with the same bytes are one recording under two names: stop, naming both.
    Only files of equal size and equal first HEAD bytes are read whole: a cohort's device
    files are often of one size, and a thousand weeks would otherwise be read at every start."""
    same_size = _alike(paths, lambda path: path.stat().st_size)
    same_head = [group for size in same_size for group in _alike(size, _head_digest)]
    same = (path for group in same_head for path in sorted(group))
    refuse_copies(
        ((path, file_digest(path)) for path in same), "are the same file (identical content)"
    )


def _alike(paths, key) -> list[list[Path]]:
    """The groups of two or more `paths` with the same `key`."""
    groups = defaultdict(list)
    for path in paths:
        groups[key(path)].append(path)
    return [group for group in groups.values() if len(group) > 1]


def _head_digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(HEAD)).hexdigest()


def file_digest(path) -> str:
    """SHA-256 of the file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
