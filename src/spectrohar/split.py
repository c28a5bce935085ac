"""Participant-level train / validation / test split."""

import re

import numpy as np
import pandas as pd

from spectrohar.errors import DataError

SETS = ("train", "validation", "test")
_RANGE = re.compile(r"P(\d{3})-P(\d{3})")


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
            selected |= {p for p in present if p[1:].isdigit() and low <= int(p[1:]) <= high}
        elif item in present:
            selected.add(item)
        else:
            raise DataError(
                f"{setting} names participant {item!r}, which is not in the source "
                f"({len(present)} participants, e.g. {', '.join(sorted(present)[:3])})"
            )
    return sorted(selected)


def make_split(participants, *, test, validation_fraction, seed) -> pd.DataFrame:
    """One row per participant with its set; validation drawn from the non-test ones by `seed`."""
    test = select_participants(test, participants)
    rest = sorted(set(participants) - set(test))
    n_validation = round(validation_fraction * len(rest))
    if not test or n_validation < 1 or n_validation >= len(rest):
        raise DataError(
            f"the split needs test, validation and training participants: {len(test)} test, "
            f"{n_validation} validation of {len(rest)} others (validation_fraction "
            f"{validation_fraction})"
        )
    validation = np.random.default_rng(seed).choice(rest, n_validation, replace=False)
    sets = {
        p: "test" if p in test else "validation" if p in validation else "train"
        for p in sorted(participants)
    }
    return pd.DataFrame({"participant": list(sets), "set": list(sets.values())})


def build(split_table, participants, *, test, validation_fraction, seed) -> None:
    """The split rule: write the table as CSV."""
    make_split(participants, test=test, validation_fraction=validation_fraction, seed=seed).to_csv(
        split_table, index=False
    )
