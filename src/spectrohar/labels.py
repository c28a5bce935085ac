"""The Capture-24 annotation-label dictionary: six label schemes over raw annotation strings."""

from importlib.resources import files

import numpy as np
import pandas as pd

from spectrohar.errors import DataError

DICTIONARY = "annotation-label-dictionary.csv"
PACKAGED_DICTIONARY = files("spectrohar") / "data" / DICTIONARY


def read_dictionary(path=PACKAGED_DICTIONARY) -> pd.DataFrame:
    """The dictionary indexed by annotation, one `label:<scheme>` column per scheme.

    Strings are kept exactly as released: the typos in them are part of the keys.
    """
    dictionary = pd.read_csv(path, index_col="annotation", dtype="string", keep_default_na=False)
    dictionary.attrs["path"] = str(path)
    return dictionary


def map_labels(annotations, dictionary: pd.DataFrame, scheme: str, *, unknown="error"):
    """The label of each annotation under `scheme`, and the windows dropped per unknown annotation.

    Annotations are matched exactly; one that already is a label of the scheme maps to itself.
    An annotation that is neither stops with every such string and its count, or, with
    `unknown="drop"`, gets label None and is counted.
    """
    column = f"label:{scheme}"
    if column not in dictionary.columns:
        raise DataError(f"{dictionary.attrs['path']}: has no column {column!r}")
    annotations = pd.Series(np.asarray(annotations, dtype=object))
    known = {label: label for label in dictionary[column].unique()}
    known.update(dictionary[column].to_dict())
    labels = annotations.map(known)
    dropped = annotations[labels.isna()].value_counts().to_dict()
    if dropped and unknown == "error":
        listed = "; ".join(f"{text!r} ({count} windows)" for text, count in dropped.items())
        raise DataError(
            f"{dictionary.attrs['path']}: {len(dropped)} annotations are missing under {column} "
            f"(set labels.unknown: drop to drop their windows): {listed}"
        )
    return labels.astype(object).where(labels.notna(), None).to_numpy(), dropped
