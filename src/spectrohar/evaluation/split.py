"""Participant-level train / validation / test split, with the participants' metadata."""

import functools
import re

import numpy as np
import pandas as pd

from spectrohar import sources
from spectrohar.cache.stores import open_store
from spectrohar.errors import DataError
from spectrohar.sources.metadata import with_metadata

SETS = ("train", "validation", "test")
# An inclusive range of ids that share a prefix and end in a number: 'P101-P151', 's01-s10'.
_RANGE = re.compile(r"(.*?)([0-9]+)-\1([0-9]+)", flags=re.ASCII)
_NUMBERED = re.compile(r"(.*?)([0-9]+)", flags=re.ASCII)  # ASCII digits: 'P00١' is no number


def select_participants(spec, participants, setting="split.test") -> list[str]:
    """The participants named by `spec`: ids ('subj07') and inclusive ranges of ids with one
    prefix ('P101-P151', 'subj01-subj10'); an entry that is an id present is that id.

    A range selects the participants present in it; a named id must be present. The first entry
    that is neither is refused, named.
    """
    present = set(participants)
    selected = set()
    for item in spec:
        match = _RANGE.fullmatch(item)
        if item in present:
            selected.add(item)
        elif match and int(match[2]) <= int(match[3]):
            prefix, low, high = match[1], int(match[2]), int(match[3])
            numbered = {p: _NUMBERED.fullmatch(p) for p in present}
            selected |= {
                p for p, n in numbered.items() if n and n[1] == prefix and low <= int(n[2]) <= high
            }
        else:
            raise DataError(
                f"{setting} names participant {item!r}, which is not in the source "
                f"({len(present)} participants, e.g. {', '.join(sorted(present)[:3])}; a range "
                "is two ids with one prefix, the lower first, like P101-P151)"
            )
    return sorted(selected)


# What a split table that is refused asks for: the split rule makes it again from the config.
_REMAKE = "delete it and rerun Snakemake to make it again"


def read_table(split_table) -> pd.DataFrame:
    """The split table (participant, set and metadata columns, as strings), each participant in
    one of SETS once: a participant listed twice could be trained on and tested on, and is
    refused, naming the table."""
    try:
        table = pd.read_csv(split_table, dtype=str, keep_default_na=False)
    except ValueError as error:  # pandas' EmptyDataError and ParserError among them
        raise DataError(
            f"{split_table}: cannot be read as a split table ({error}); {_REMAKE}"
        ) from None
    if not {"participant", "set"} <= set(table.columns):
        raise DataError(
            f"{split_table}: no participant and set columns in the header {list(table.columns)}"
            f"; {_REMAKE}"
        )
    again = table.participant[table.participant.duplicated()]
    if len(again):
        sets = table.set[table.participant == again.iloc[0]]
        raise DataError(
            f"{split_table}: participant {again.iloc[0]!r} is listed more than once "
            f"({', '.join(sets)}); {_REMAKE}"
        )
    unknown = table[~table.set.isin(SETS)]
    if len(unknown):
        raise DataError(
            f"{split_table}: participant {unknown.participant.iloc[0]!r} is in set "
            f"{unknown.set.iloc[0]!r}, which is none of {', '.join(SETS)}; {_REMAKE}"
        )
    return table


def split_participants(split_table, name) -> list[str]:
    """The participants in set `name` (train, validation or test) of the split table."""
    split = read_table(split_table)
    return sorted(split.participant[split.set == name])


def check_table(split_table, split) -> None:
    """Refuse a split table that is not the split the `split` settings make of its participants
    (make_split), naming it and the first participant out of place: a table edited by hand, or
    left from other settings, would put a test participant in training."""
    table = read_table(split_table)
    try:
        made = make_split(table.participant, split).set_index("participant").set
    except DataError as error:
        raise DataError(
            f"{split_table}: is not the split the config makes ({error}); {_REMAKE}"
        ) from None
    made = made[table.participant].to_numpy()
    moved = np.flatnonzero(table.set.to_numpy() != made)
    if len(moved):
        row = moved[0]
        raise DataError(
            f"{split_table}: participant {table.participant.iloc[row]!r} is in "
            f"{table.set.iloc[row]}, but the config's split settings put it in {made[row]} (the "
            f"table was edited, or made under other settings); {_REMAKE}"
        )


def checking_split(stage):
    """`stage`, a rule's function of a `split_table`, taking the `split` settings as well and
    checking the table against them (check_table) before it runs: every rule that reads the
    split runs its function so."""

    @functools.wraps(stage)
    def checked(*, split_table, split, **kwargs):
        check_table(split_table, split)
        return stage(split_table=split_table, **kwargs)

    return checked


def make_split(participants, split) -> pd.DataFrame:
    """One row per participant with its set under the `split` settings: test as named by
    `split.test`, or drawn by the seed (`split.test_fraction`); validation drawn from the others
    by the seed."""
    rng = np.random.default_rng(split.seed)
    participants = sorted(participants)
    if split.test_fraction is None:
        test = select_participants(split.test, participants)
    else:
        n_test = round(split.test_fraction * len(participants))
        test = sorted(rng.choice(participants, n_test, replace=False)) if n_test else []
    rest = sorted(set(participants) - set(test))
    n_validation = round(split.validation_fraction * len(rest))
    if not test or n_validation < 1 or n_validation >= len(rest):
        how = (
            f"test_fraction {split.test_fraction}"
            if split.test_fraction is not None
            else f"test {split.test}"
        )
        raise DataError(
            f"the split needs test, validation and training participants: {len(test)} test, "
            f"{n_validation} validation of {len(rest)} others (split.{how}, validation_fraction "
            f"{split.validation_fraction})"
        )
    validation = rng.choice(rest, n_validation, replace=False)
    sets = {
        p: "test" if p in test else "validation" if p in validation else "train"
        for p in participants
    }
    return pd.DataFrame({"participant": list(sets), "set": list(sets.values())})


def refuse_copies(stores) -> None:
    """Two window stores made from the same recording (same start, length and samples) under
    two participant ids would leak between the sets: stop, naming both source files. `stores`
    are the window stores' attributes."""
    sources.refuse_copies(
        ((attrs["source"], attrs.get("recording_digest")) for attrs in stores),
        "hold the same recording (same start, length and samples)",
    )


def check_sets(split, stores) -> None:
    """A set whose participants have no annotated windows is refused, naming them."""
    annotated = {
        attrs["participant"]: attrs["windows_kept"] - attrs["windows_unannotated"]
        for attrs in stores
    }
    for name in SETS:
        members = split.participant[split.set == name].tolist()
        if not sum(annotated[p] for p in members):
            raise DataError(
                f"the {name} participants {', '.join(members)} have no annotated windows "
                "(results/qc.csv says why): change split.test or split.seed so that every set "
                "has them, or leave those participants out with source.participants"
            )


def build(split_table, window_stores, metadata=None, *, split) -> None:
    """The split rule: check the window stores, write the table made under the `split`
    settings as CSV, with the columns of the participants' `metadata` (a metadata.csv path) if
    there is one."""
    stores = [open_store(path).attrs for path in window_stores]
    refuse_copies(stores)
    participants = [attrs["participant"] for attrs in stores]
    table = make_split(participants, split)
    check_sets(table, stores)
    if metadata:
        table = with_metadata(table, metadata)
    table.to_csv(split_table, index=False)
