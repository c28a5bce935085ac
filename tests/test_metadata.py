import pandas as pd
import pytest

from spectrohar.errors import DataError
from spectrohar.sources.metadata import NOT_GIVEN, read_metadata, with_metadata


def test_capture24_metadata_is_read_by_pid_and_joined_to_the_participants(tmp_path):
    path = tmp_path / "metadata.csv"
    path.write_text("pid,age,sex\nP001,38-52,F\nP002,30-37,\nP009,53+,M\n")
    participants = pd.DataFrame({"participant": ["P001", "P002", "P003"], "set": ["a", "b", "c"]})
    table = with_metadata(participants, path)
    assert table.to_dict("list") == {
        "participant": ["P001", "P002", "P003"],
        "set": ["a", "b", "c"],
        "age": ["38-52", "30-37", NOT_GIVEN],
        "sex": ["F", NOT_GIVEN, NOT_GIVEN],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,age\nP001,30-37\n", r"metadata.csv: no participant id column \(pid or participant\)"),
        ("pid,age\nP001,30-37\nP001,53+\n", r"metadata.csv: line 3: participant 'P001' is listed"),
        ("pid,set\nP001,x\n", r"metadata.csv: has a column 'set'"),
        ("pid,age\nP001,30-37,F\n", r"metadata.csv: cannot be read as comma-separated metadata"),
    ],
)
def test_bad_metadata_is_refused_with_the_place(tmp_path, text, message):
    path = tmp_path / "metadata.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_metadata(path)
