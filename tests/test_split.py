import pytest

from spectrohar.errors import DataError
from spectrohar.split import make_split, select_participants
from spectrohar.synthetic import participant_ids

PARTICIPANTS = [f"P{i:03d}" for i in range(1, 152)]


def test_the_standard_split_holds_out_p101_to_p151():
    split = make_split(PARTICIPANTS, test=["P101-P151"], validation_fraction=0.2, seed=1)
    sets = split.groupby("set").participant.apply(list)
    assert sets["test"] == [f"P{i}" for i in range(101, 152)]
    assert len(sets["validation"]) == 20 and len(sets["train"]) == 80
    assert split.participant.is_unique and len(split) == 151


def test_validation_is_seeded():
    first, again, other = (
        make_split(PARTICIPANTS, test=["P101-P151"], validation_fraction=0.2, seed=seed)
        for seed in (1, 1, 2)
    )
    assert first.equals(again)
    assert not first.equals(other)


def test_a_range_takes_those_present_and_an_id_must_exist():
    present = participant_ids(12)
    assert select_participants(["P101-P151"], present) == [p for p in present if p >= "P101"]
    assert select_participants(["P001", "P151"], present) == ["P001", "P151"]
    with pytest.raises(DataError, match=r"split.test names participant 'P102'"):
        select_participants(["P102"], present)


def test_a_split_without_a_set_is_an_error():
    with pytest.raises(DataError, match=r"0 test"):
        make_split(["P001", "P002", "P003"], test=["P101-P151"], validation_fraction=0.5, seed=1)
    with pytest.raises(DataError, match=r"validation"):
        make_split(["P001", "P002", "P101"], test=["P101"], validation_fraction=0.1, seed=1)
