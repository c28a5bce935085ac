"""Where recordings come from: one module per `source.kind`, named in SOURCES.

Adding a format is adding a module with these three functions and its name below:

- `participants(settings) -> list[str]`: the participant ids the source holds, each checked
  with `checked_ids`, given the whole typed config (`settings.Settings`).
- `inputs(settings, participant) -> dict[str, str]`: the files the windows job of one
  participant reads (its Snakemake input), given the whole typed config.
- `read(inputs, participant, *, source, windows) -> xarray.Dataset`: that participant's windows
  in the window layout, cut under the `windows` section, as the `source` section says.

A module whose files are made by the workflow names its rules file in `RULES`.
"""

import importlib
import re
import stat
from pathlib import Path
from types import ModuleType

from spectrohar.errors import DataError

SOURCES = {
    "synthetic": "spectrohar.sources.synthetic",
    "capture24": "spectrohar.sources.capture24",
    "npy": "spectrohar.sources.npy",
}

# Letters, digits, '_', '-' and '.' (ASCII only: 'P00١' is not 'P001'); ids name files and
# Snakemake wildcards, so nothing else may reach a path.
PARTICIPANT_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}", flags=re.ASCII)


def source(kind) -> ModuleType:
    """The module of source `kind`, imported when first asked for."""
    return importlib.import_module(SOURCES[kind])


def checked_ids(ids, where) -> list[str]:
    """`ids`, each refused with `where` named unless it is a usable participant id."""
    for participant in ids:
        if not PARTICIPANT_ID.fullmatch(participant):
            raise DataError(
                f"{where}: {participant!r} is not a usable participant id (ASCII letters, "
                "digits, '_', '-' and '.', not starting with '.', up to 64 characters)"
            )
    return list(ids)


def refuse_copies(keyed, sameness) -> None:
    """Stop at the first two of the (name, key) pairs `keyed` (an iterable, read no further)
    with one key, naming both: one recording under two participant ids would leak between the
    split's sets. A key of None matches none; `sameness` says what the two share."""
    seen = {}
    for name, key in keyed:
        if key is None:
            continue
        if key in seen:
            raise DataError(
                f"{seen[key]} and {name} {sameness}: one recording under two participant ids "
                "would leak between the split's sets; remove one"
            )
        seen[key] = name


def source_folder(source) -> Path:
    """The folder of the `source` section, which must exist."""
    path = Path(source.path)
    if not path.is_dir():
        raise DataError(f"source.path {str(path)!r} is not a folder")
    return path


FILE_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISSOCK: "a socket",
}


def refuse_other_files(path) -> None:
    """Stop where `path` is a broken link or no regular file (a device or FIFO would be read
    without end, or wait forever); a missing path is left to the reader to name."""
    if path.is_symlink() and not path.exists():
        raise DataError(f"{path}: is a broken symbolic link to {path.readlink()}")
    mode = path.stat().st_mode if path.exists() else stat.S_IFREG
    if not stat.S_ISREG(mode):
        kind = next(
            (kind for is_kind, kind in FILE_KINDS.items() if is_kind(mode)), "a special file"
        )
        link = f" (a link to {path.readlink()})" if path.is_symlink() else ""
        raise DataError(f"{path}: is {kind}{link}, not a file")
