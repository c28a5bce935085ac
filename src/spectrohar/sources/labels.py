"""The Capture-24 annotation-label dictionary: six label schemes over raw annotation strings."""

import logging
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from spectrohar.cache.layout import UNANNOTATED
from spectrohar.errors import DataError

DICTIONARY = "annotation-label-dictionary.csv"
PACKAGED_DICTIONARY = files("spectrohar") / "data" / DICTIONARY
SCHEME = "label:"  # the prefix of a dictionary's column of each scheme's labels: label:<scheme>

log = logging.getLogger(__name__)


def choose_dictionary(setting, folder, made=False) -> str:
    """The annotation-label dictionary that labels the recordings of `folder`: `setting`
    (labels.dictionary) where it is given; else the folder's DICTIONARY where it is there (or
    `made`: the workflow writes it there); else Capture-24's packaged one."""
    if setting:
        return setting
    beside = Path(folder) / DICTIONARY
    return str(beside if made or beside.is_file() else PACKAGED_DICTIONARY)


def read_dictionary(path=PACKAGED_DICTIONARY) -> pd.DataFrame:
    """The dictionary indexed by annotation, one `label:<scheme>` column per scheme, checked.

    Strings are kept exactly as released: the typos in them are part of the keys. A missing
    `annotation` column, a row with too many or too few fields, an empty label cell and an
    annotation listed twice with different labels each stop with the row that has them.
    """
    try:
        # pyarrow's parser refuses a row with too many or too few fields, naming it.
        table = pd.read_csv(path, dtype="string", keep_default_na=False, engine="pyarrow")
    except (ValueError, OSError) as error:
        raise DataError(
            f"{path}: cannot be read as a comma-separated dictionary: {error}"
        ) from None
    if "annotation" not in table.columns:
        raise DataError(
            f"{path}: no column 'annotation' in the header {list(table.columns)[:3]} "
            "(the dictionary is comma-separated, with annotation and label:<scheme> columns)"
        )
    line = table.index + 2  # 1-based, after the header
    empty = table == ""
    if empty.any(axis=None):
        row, column = np.argwhere(empty.to_numpy())[0]
        raise DataError(
            f"{path}: line {line[row]}: no value under {table.columns[column]!r} "
            f"({int(empty.to_numpy().sum())} empty cells)"
        )
    repeated = table[table.annotation.duplicated(keep=False)].drop_duplicates()
    clash = repeated[repeated.annotation.duplicated(keep=False)]
    if len(clash):
        first = clash[clash.annotation == clash.annotation.iloc[0]]
        raise DataError(
            f"{path}: lines {' and '.join(str(n) for n in line[first.index][:2])} give "
            f"annotation {first.annotation.iloc[0]!r} different labels"
        )
    dictionary = table.drop_duplicates().set_index("annotation")
    dictionary.attrs["path"] = str(path)
    return dictionary


def map_labels(annotations, dictionary: pd.DataFrame, scheme: str, *, unknown="error"):
    """The label of each annotation under `scheme`, and the windows dropped per unknown annotation.

    Annotations are matched exactly; one that already is a label of the scheme maps to itself;
    a window without one (layout.UNANNOTATED) gets label None and is no unknown annotation. An
    annotation that is none of these stops with every such string and its count, or, with
    `unknown="drop"`, gets label None and is counted.
    """
    column = f"{SCHEME}{scheme}"
    if column not in dictionary.columns:
        raise DataError(f"{dictionary.attrs['path']}: has no column {column!r}")
    annotations = pd.Series(np.asarray(annotations, dtype=object))
    known = {label: label for label in dictionary[column].unique()}
    known.update(dictionary[column].to_dict())
    labels = annotations.map(known)
    dropped = annotations[labels.isna() & (annotations != UNANNOTATED)].value_counts().to_dict()
    if dropped and unknown == "error":
        listed = "; ".join(f"{text!r} ({count} windows)" for text, count in dropped.items())
        raise DataError(
            f"{dictionary.attrs['path']}: {len(dropped)} annotations are missing under {column} "
            f"(set labels.unknown: drop to drop their windows): {listed}"
        )
    return labels.astype(object).where(labels.notna(), None).to_numpy(), dropped


def labelling(dictionary, labels) -> Callable[[np.ndarray], np.ndarray]:
    """How the readers of the cache label windows: annotations -> their labels under the
    `labels` settings' scheme of the dictionary at path `dictionary`, None for an unknown one
    that `labels.unknown: drop` lets through (such windows are left out, with a warning)."""
    table = read_dictionary(dictionary)

    def label(annotations) -> np.ndarray:
        mapped, dropped = map_labels(annotations, table, labels.scheme, unknown=labels.unknown)
        if dropped:
            log.warning("left out windows of annotations missing from %s: %s", dictionary, dropped)
        return mapped

    return label


def labelled_windows(ds, participants, labelling) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the windows of a store's Dataset `ds` (participant and annotation
    coordinates) that belong to `participants` and that `labelling` labels, and every window's
    label (None where it has none)."""
    label = labelling(ds.annotation.values)
    wanted = np.isin(ds.participant.values, list(participants))
    return np.flatnonzero(wanted & np.array([text is not None for text in label], bool)), label
