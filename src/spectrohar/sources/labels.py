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
# The states beside the classes in the daily summaries (prediction.daily: hours_<class>,
# hours_non_wear, hours_no_data): a class so named would share their column.
NOT_CLASSES = ("non-wear", "non_wear", "no_data")

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

    Strings are kept as released, the typos in them part of the keys, with surrounding spaces
    removed: `walk ` is `walk`. A missing `annotation` column, a row with too many or too few
    fields, an empty label cell, two annotations alike but for case with different labels, two
    labels of a scheme alike but for case and a label named as the daily summaries' time in no
    class (NOT_CLASSES) each stop with the row that has them.
    """
    try:
        # pyarrow's parser refuses a row with too many or too few fields, naming it.
        table = pd.read_csv(path, dtype="string", keep_default_na=False, engine="pyarrow")
    except (ValueError, OSError) as error:
        raise DataError(
            f"{path}: cannot be read as a comma-separated dictionary: {error}"
        ) from None
    table.columns = table.columns.str.strip()
    if "annotation" not in table.columns:
        raise DataError(
            f"{path}: no column 'annotation' in the header {list(table.columns)[:3]} "
            "(the dictionary is comma-separated, with annotation and label:<scheme> columns)"
        )
    table = table.apply(lambda column: column.str.strip())
    line = table.index + 2  # 1-based, after the header
    empty = table == ""
    if empty.any(axis=None):
        row, column = np.argwhere(empty.to_numpy())[0]
        raise DataError(
            f"{path}: line {line[row]}: no value under {table.columns[column]!r} "
            f"({int(empty.to_numpy().sum())} empty cells)"
        )
    # Rows of one annotation (alike but for case) with the same labels are one row.
    labelled = table.assign(annotation=folded(table.annotation)).drop_duplicates()
    clash = labelled.annotation[labelled.annotation.duplicated(keep=False)]
    if len(clash):
        rows = clash.index[clash == clash.iloc[0]][:2]
        first, second = table.annotation[rows]
        which = (
            f"annotation {first!r}"
            if first == second
            else f"annotations {first!r} and {second!r}, alike but for case,"
        )
        raise DataError(
            f"{path}: lines {' and '.join(str(n) for n in line[rows])} give {which} "
            "different labels"
        )
    for column in table.columns.drop("annotation"):
        spellings = table[column].drop_duplicates()  # each at its first line
        alike = spellings[folded(spellings).duplicated(keep=False)]
        if len(alike):
            rows = alike.index[folded(alike) == folded(alike).iloc[0]][:2]
            first, second = table[column][rows]
            raise DataError(
                f"{path}: lines {' and '.join(str(n) for n in line[rows])} give {column} labels "
                f"{first!r} and {second!r}, alike but for case: spell a class one way"
            )
        reserved = spellings[folded(spellings).isin(NOT_CLASSES)]
        if len(reserved):
            raise DataError(
                f"{path}: line {line[reserved.index[0]]}: {column} has the label "
                f"{reserved.iloc[0]!r}, a name the daily summaries keep for time in no class "
                f"({', '.join(NOT_CLASSES)}): rename it"
            )
    dictionary = table.drop_duplicates().set_index("annotation")
    dictionary.attrs["path"] = str(path)
    return dictionary


def folded(strings) -> pd.Series:
    """`strings` as compared: in any case, surrounding spaces removed."""
    return pd.Series(strings, dtype=object).str.strip().str.casefold()


def map_labels(annotations, dictionary: pd.DataFrame, scheme: str, *, unknown="error"):
    """The label of each annotation under `scheme`, and the windows dropped per unknown annotation.

    Annotations are matched in any case with surrounding spaces removed (`folded`); one that
    already is a label of the scheme maps to itself; a window without one (layout.UNANNOTATED)
    gets label None and is no unknown annotation. An annotation that is none of these stops with
    every such string and its count, or, with `unknown="drop"`, gets label None and is counted.
    """
    column = f"{SCHEME}{scheme}"
    if column not in dictionary.columns:
        raise DataError(f"{dictionary.attrs['path']}: has no column {column!r}")
    annotations = pd.Series(np.asarray(annotations, dtype=object))
    classes = dictionary[column].unique()
    known = dict(zip(folded(classes), classes, strict=True))
    known.update(zip(folded(dictionary.index), dictionary[column], strict=True))
    labels = folded(annotations).map(known)
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
