import pandas as pd
import pytest

from spectrohar.errors import DataError
from spectrohar.evaluation.split import (
    check_sets,
    check_table,
    make_split,
    refuse_copies,
    select_participants,
    split_participants,
)
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


SMALL = [f"P{i:03d}" for i in (1, 2, 3, 4, 5, 6, 101, 102)]
SPLIT = Split(["P101-P151"], None, 0.25, 1)
REMAKE = "delete it and rerun Snakemake to make it again"


def split_table(path, rows=None):
    """SPLIT made of SMALL as a split table at `path` (with a metadata column, as the split rule
    writes it), or `rows` (participant, set) as one."""
    table = make_split(SMALL, SPLIT).assign(sex="F") if rows is None else pd.DataFrame(rows)
    table.to_csv(path, index=False)
    return path


def test_the_split_the_config_makes_is_read_as_it_is(tmp_path):
    table = split_table(tmp_path / "split.csv")
    check_table(table, SPLIT)
    assert split_participants(table, "test") == ["P101", "P102"]
    assert len(split_participants(table, "validation")) == 2  # 0.25 of the 6 others, rounded
    assert len(split_participants(table, "train")) == 4


@pytest.mark.parametrize("moved_to", ["train", "validation"])
def test_a_test_participant_moved_by_hand_is_refused_naming_the_table(tmp_path, moved_to):
    table = pd.read_csv(split_table(tmp_path / "split.csv"))
    table.loc[table.participant == "P101", "set"] = moved_to
    table.to_csv(tmp_path / "split.csv", index=False)
    split_participants(tmp_path / "split.csv", "train")  # each participant once: readable
    with pytest.raises(
        DataError,
        match=rf"^{tmp_path}/split.csv: participant 'P101' is in {moved_to}, but the config's "
        rf"split settings put it in test .*; {REMAKE}$",
    ):
        check_table(tmp_path / "split.csv", SPLIT)


def test_a_table_made_under_other_settings_is_refused(tmp_path):
    table = split_table(tmp_path / "split.csv")
    for other in (
        Split(["P101-P151"], None, 0.25, 2),  # another validation draw
        Split(["P102"], None, 0.25, 1),  # other test ids
        Split([], 0.25, 0.25, 1),  # a seeded test fraction
    ):
        with pytest.raises(DataError, match=rf"^{table}: participant '\w+' is in \w+, but the"):
            check_table(table, other)
    # A config whose split its participants cannot make: the table, and why.
    with pytest.raises(DataError, match=rf"^{table}: is not the split the config makes \(split"):
        check_table(table, Split(["P009"], None, 0.25, 1))


@pytest.mark.parametrize("also", ["train", "test"])
def test_a_participant_in_two_sets_is_refused_by_every_reader(tmp_path, also):
    rows = {"participant": ["P001", "P002", "P101", "P101"], "set": ["train", "validation"]}
    rows["set"] += ["test", "train"] if also == "train" else ["train", "test"]
    table = split_table(tmp_path / "split.csv", rows)
    sets = "test, train" if also == "train" else "train, test"
    message = rf"^{table}: participant 'P101' is listed more than once \({sets}\); {REMAKE}$"
    for name in ("train", "test"):
        with pytest.raises(DataError, match=message):
            split_participants(table, name)
    with pytest.raises(DataError, match=message):
        check_table(table, SPLIT)


def test_a_set_that_is_none_of_the_three_is_refused(tmp_path):
    rows = {"participant": ["P001", "P002", "P101"], "set": ["training", "validation", "test"]}
    table = split_table(tmp_path / "split.csv", rows)
    with pytest.raises(
        DataError,
        match=rf"^{table}: participant 'P001' is in set 'training', which is none of train, "
        rf"validation, test; {REMAKE}$",
    ):
        split_participants(table, "train")


def test_a_table_that_is_no_split_table_is_refused(tmp_path):
    table = tmp_path / "split.csv"
    table.write_text("")  # emptied
    with pytest.raises(DataError, match=rf"^{table}: cannot be read as a split table \(No col"):
        split_participants(table, "train")
    table.write_text("participant,group\nP001,train\n")
    with pytest.raises(
        DataError,
        match=rf"^{table}: no participant and set columns in the header \['participant', 'group'\]",
    ):
        split_participants(table, "train")
