"""The Capture-24 annotation-label dictionary: six label schemes over raw annotation strings."""

from importlib.resources import files

import numpy as np
import pandas as pd

from spectrohar.errors import DataError

PACKAGED_DICTIONARY = files("spectrohar") / "data" / "annotation-label-dictionary.csv"


def read_dictionary(path=PACKAGED_DICTIONARY) -> pd.DataFrame:
    """The dictionary indexed by annotation, one `label:<scheme>` column per scheme.

    Strings are kept exactly as released: the typos in them are part of the keys.
    """
    dictionary = pd.read_csv(path, index_col="annotation", dtype="string", keep_default_na=False)
    dictionary.attrs["path"] = str(path)
    return dictionary


def map_labels(annotations, dictionary: pd.DataFrame, scheme: str) -> np.ndarray:
    """The label of each annotation string under `scheme`, matched exactly."""
    column = f"label:{scheme}"
    if column not in dictionary.columns:
        raise DataError(f"{dictionary.attrs['path']}: has no column {column!r}")
    annotations = pd.Series(np.asarray(annotations, dtype=object))
    labels = annotations.map(dictionary[column])
    unknown = annotations[labels.isna()].value_counts()
    if len(unknown):
        listed = "; ".join(f"{text!r} ({count} windows)" for text, count in unknown.items())
        raise DataError(
            f"{dictionary.attrs['path']}: {len(unknown)} annotations are missing: {listed}"
        )
    return labels.to_numpy(dtype=object)
