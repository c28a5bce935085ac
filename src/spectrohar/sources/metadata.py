"""A study's per-participant metadata, as Capture-24's metadata.csv (pid,age,sex): groups that
results are reported by."""

import pandas as pd

from spectrohar.errors import DataError

METADATA = "metadata.csv"
ID_COLUMNS = ("pid", "participant")  # Capture-24's name, and ours
NOT_GIVEN = "(not given)"  # the group of a participant the metadata leaves out or leaves empty


def read_metadata(path) -> pd.DataFrame:
    """One row per participant, indexed by `participant`, each other column a group (strings).

    The id column is `pid` or `participant`; a participant listed twice, and a column named
    `set` (the split table's), stop with the place."""
    try:
        table = pd.read_csv(path, dtype="string", keep_default_na=False, engine="pyarrow")
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: cannot be read as comma-separated metadata: {error}") from None
    id_column = next((name for name in ID_COLUMNS if name in table.columns), None)
    if id_column is None:
        raise DataError(
            f"{path}: no participant id column ({' or '.join(ID_COLUMNS)}) in the header "
            f"{list(table.columns)}"
        )
    repeated = table[id_column].duplicated()
    if repeated.any():
        row = repeated.to_numpy().argmax()
        raise DataError(
            f"{path}: line {row + 2}: participant {table[id_column].iloc[row]!r} is listed again"
        )
    if "set" in table.columns:
        raise DataError(f"{path}: has a column 'set', the split table's own: rename it")
    return table.set_index(id_column).rename_axis("participant").replace("", NOT_GIVEN)


def with_metadata(participants: pd.DataFrame, path) -> pd.DataFrame:
    """`participants` (a table with a participant column) with the metadata at `path` joined on,
    NOT_GIVEN for a participant it does not list."""
    return participants.join(read_metadata(path), on="participant").fillna(NOT_GIVEN)
