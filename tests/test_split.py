import pytest

from spectrohar.errors import DataError
from spectrohar.evaluation.split import check_sets, make_split, refuse_copies, select_participants
from spectrohar.settings import Split
from spectrohar.sources.synthetic import participant_ids

PARTICIPANTS = [f"P{i:03d}" for i in range(1, 152)]


def test_the_standard_split_holds_out_p101_to_p151():
    split = make_split(PARTICIPANTS, Split(["P101-P151"], None, 0.2, 1))
    sets = split.groupby("set").participant.apply(list)
    assert sets["test"] == [f"P{i}" for i in range(101, 152)]
    assert len(sets["validation"]) == 20 and len(sets["train"]) == 80
    assert split.participant.is_unique and len(split) == 151


def test_validation_is_seeded():
    first, again, other = (
        make_split(PARTICIPANTS, Split(["P101-P151"], None, 0.2, seed)) for seed in (1, 1, 2)
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
        make_split(["P001", "P002", "P003"], Split(["P101-P151"], None, 0.5, 1))
    with pytest.raises(DataError, match=r"validation"):
        make_split(["P001", "P002", "P101"], Split(["P101"], None, 0.1, 1))


def test_a_range_matches_ascii_digits_only():
    assert select_participants(["P001-P010"], ["P001", "P00\u0661", "P002"]) == ["P001", "P002"]


def stores(digests):
    """Window stores' attributes, one participant per digest."""
    return [
        {"participant": f"P{i:03d}", "source": f"P{i:03d}.csv.gz", "recording_digest": digest}
        for i, digest in enumerate(digests, start=1)
    ]


def test_the_same_recording_under_two_ids_is_refused_naming_both():
    refuse_copies(stores(["a", "b", "c", None, None]))  # skipped participants have no digest
    with pytest.raises(
        DataError, match=r"^P002.csv.gz and P004.csv.gz hold the same recording \(same start"
    ):
        refuse_copies(stores(["a", "b", "c", "b"]))


@pytest.mark.parametrize("empty", ["validation", "test"])
def test_a_set_without_windows_is_refused_naming_its_participants(empty):
    split = make_split(
        ["P001", "P002", "P003", "P004", "P101", "P102"], Split(["P101-P151"], None, 0.25, 1)
    )
    members = split.participant[split.set == empty].tolist()
    check_sets(
        split,
        [
            {"participant": p, "windows_kept": 10, "windows_unannotated": 9}
            for p in split.participant
        ],
    )
    attrs = [  # windows, but none of the set's annotated
        {"participant": p, "windows_kept": 10, "windows_unannotated": 10 if p in members else 0}
        for p in split.participant
    ]
    with pytest.raises(
        DataError,
        match=rf"^the {empty} participants {', '.join(members)} have no annotated windows",
    ):
        check_sets(split, attrs)


def test_ranges_work_for_any_prefix_followed_by_digits():
    present = [f"subj{i:02d}" for i in range(1, 31)] + ["subj-x", "other07", "s-1", "s-2"]
    assert select_participants(["subj07-subj09"], present) == ["subj07", "subj08", "subj09"]
    assert select_participants(["subj28-subj99", "other07"], present) == [
        "other07",
        "subj28",
        "subj29",
        "subj30",
    ]
    assert select_participants(["s-1-s-2"], present) == ["s-1", "s-2"]  # the prefix has a '-'
    assert select_participants(["s-2"], present) == ["s-2"]  # an id present is that id


def test_the_first_bad_entry_is_named():
    present = [f"subj{i:02d}" for i in range(1, 31)]
    spec = [*present[:9], "subj31", "subj40", "subj09-subj02"]
    with pytest.raises(DataError, match=r"^split.test names participant 'subj31', which is not"):
        select_participants(spec, present)
    with pytest.raises(DataError, match=r"^split.test names participant 'subj09-subj02'"):
        select_participants(["subj09-subj02"], present)  # the lower first


def test_a_test_fraction_draws_test_participants_by_the_seed():
    present = [f"subj{i:02d}" for i in range(1, 31)]
    first, again, other = (make_split(present, Split([], 0.2, 0.25, seed)) for seed in (1, 1, 2))
    assert first.equals(again) and not first.equals(other)
    counts = first.set.value_counts().to_dict()
    assert counts == {"test": 6, "validation": 6, "train": 18}  # 0.2 of 30, 0.25 of the 24 left
