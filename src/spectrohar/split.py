"""Participant-level train / validation / test split."""

import re

import numpy as np
import pandas as pd

from spectrohar.errors import DataError
from spectrohar.stores import open_store

SETS = ("train", "validation", "test")
_RANGE = re.compile(r"P([0-9]{3})-P([0-9]{3})")
_NUMBERED = re.compile(r"P([0-9]{3})")  # ASCII digits only: 'P00١' is no number


def select_participants(spec, participants, setting="split.test") -> list[str]:
    """The participants named by `spec`: ids ('P105') and inclusive ranges ('P101-P151').

    A range selects the participants present in it; a named id must be present.
    """
    present = set(participants)
    selected = set()
    for item in spec:
        match = _RANGE.fullmatch(item)
        if match:
            low, high = (int(n) for n in match.groups())
            numbered = {p: _NUMBERED.fullmatch(p) for p in present}
            selected |= {p for p, n in numbered.items() if n and low <= int(n[1]) <= high}
        elif item in present:
            selected.add(item)
        else:
            raise DataError(
                f"{setting} names participant {item!r}, which is not in the source "
                f"({len(present)} participants, e.g. {', '.join(sorted(present)[:3])})"
            )
    return sorted(selected)


def make_split(participants, split) -> pd.DataFrame:
    """One row per participant with its set under the `split` settings: test as named, validation
    drawn from the others by the seed."""
    test = select_participants(split.test, participants)
    rest = sorted(set(participants) - set(test))
    n_validation = round(split.validation_fraction * len(rest))
    if not test or n_validation < 1 or n_validation >= len(rest):
        raise DataError(
            f"the split needs test, validation and training participants: {len(test)} test, "
            f"{n_validation} validation of {len(rest)} others (validation_fraction "
            f"{split.validation_fraction})"
        )
    validation = np.random.default_rng(split.seed).choice(rest, n_validation, replace=False)
    sets = {
        p: "test" if p in test else "validation" if p in validation else "train"
        for p in sorted(participants)
    }
    return pd.DataFrame({"participant": list(sets), "set": list(sets.values())})


def refuse_copies(stores) -> None:
    """Two window stores made from the same recording (same start, length and samples) under
    two participant ids would leak between the sets: stop, naming both source files. `stores`
    are the window stores' attributes."""
    seen = {}
    for attrs in stores:
        key = attrs.get("recording_digest")
        if key in seen:
            raise DataError(
                f"{seen[key]} and {attrs['source']} hold the same recording (same start, length "
                "and samples) under two participant ids, which would leak between the split's "
                "sets; remove one"
            )
        if key is not None:
            seen[key] = attrs["source"]


def check_sets(split, stores) -> None:
    """A set whose participants have no windows is refused, naming them."""
    kept = {attrs["participant"]: attrs["windows_kept"] for attrs in stores}
    for name in SETS:
        members = split.participant[split.set == name].tolist()
        if not sum(kept[p] for p in members):
            raise DataError(
                f"the {name} participants {', '.join(members)} have no windows (results/qc.csv "
                "says why): change split.test or split.seed so that every set has windows, or "
                "leave them out with source.participants"
            )


def build(split_table, window_stores, *, split) -> None:
    """The split rule: check the window stores, write the table made under the `split`
    settings as CSV."""
    stores = [open_store(path).attrs for path in window_stores]
    refuse_copies(stores)
    participants = [attrs["participant"] for attrs in stores]
    table = make_split(participants, split)
    check_sets(table, stores)
    table.to_csv(split_table, index=False)
