import filecmp

import numpy as np
import pytest
from conftest import SHARED

from spectrohar.cache.layout import UNANNOTATED
from spectrohar.errors import DataError
from spectrohar.sources.labels import PACKAGED_DICTIONARY, map_labels, read_dictionary

RELEASED = SHARED / "capture24" / "annotation-label-dictionary.csv"
SIZES = {
    "WillettsSpecific2018": 10,
    "WillettsMET2018": 11,
    "DohertySpecific2018": 10,
    "Willetts2018": 6,
    "Doherty2018": 5,
    "Walmsley2020": 4,
}


@pytest.mark.skipif(not RELEASED.exists(), reason="the released dictionary is not beside the repo")
def test_the_packaged_dictionary_is_the_released_one():
    assert filecmp.cmp(PACKAGED_DICTIONARY, RELEASED, shallow=False)


def test_every_scheme_maps_every_annotation():
    dictionary = read_dictionary()
    assert len(dictionary) == 206 and dictionary.index.is_unique
    assert [c.removeprefix("label:") for c in dictionary.columns] == list(SIZES)
    for scheme, size in SIZES.items():
        labels, dropped = map_labels(dictionary.index, dictionary, scheme)
        assert len(set(labels)) == size and dropped == {}
        assert not any(label is None or label == "" for label in labels)


def test_strings_match_exactly_typos_included():
    dictionary = read_dictionary()
    typo = "occupation;office and administrative support;11580 office wok/computer work general;"
    typo += "MET 1.5"
    assert map_labels([typo], dictionary, "Willetts2018")[0] == ["sit-stand"]
    with pytest.raises(
        DataError,
        match=r"1 annotations are missing under label:Willetts2018 \(set labels.unknown: drop to "
        r"drop their windows\): '7030 sleeping' \(2 windows\)$",
    ):
        map_labels(
            ["7030 sleeping", "7030 sleeping", "7030 sleeping;MET 0.95"], dictionary, "Willetts2018"
        )


def test_a_dictionary_without_the_scheme_names_itself(tmp_path):
    path = tmp_path / "dictionary.csv"
    read_dictionary().drop(columns="label:Walmsley2020").to_csv(path)
    with pytest.raises(DataError, match=r"dictionary.csv: has no column 'label:Walmsley2020'"):
        map_labels(np.array(["7030 sleeping;MET 0.95"]), read_dictionary(path), "Walmsley2020")


def test_unknown_annotations_can_be_dropped_and_counted():
    annotations = ["7030 sleeping;MET 0.95", "typo", "typo", "other", "walking"]
    labels, dropped = map_labels(annotations, read_dictionary(), "Willetts2018", unknown="drop")
    # 'walking' already is a Willetts2018 label, so it stands for itself.
    assert list(labels) == ["sleep", None, None, None, "walking"]
    assert dropped == {"typo": 2, "other": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "annotation;label:A\nx;1\n",
            r"no column 'annotation' in the header \['annotation;label:A'\]",
        ),
        ("annotation,label:A,label:B\nx,1,2\ny,1\n", r"Expected 3 columns, got 2: y,1"),
        ("annotation,label:A,label:B\nx,1,2\ny,1,2,3\n", r"Expected 3 columns, got 4: y,1,2,3"),
        ("annotation,label:A,label:B\nx,1,2\ny,,2\n", r"line 3: no value under 'label:A'"),
        ("annotation,label:A\nx,1\ny,2\nx,3\n", r"lines 2 and 4 give annotation 'x' different"),
    ],
    ids=["semicolons", "short-row", "long-row", "empty-cell", "conflict"],
)
def test_a_faulty_dictionary_is_refused_naming_the_row(tmp_path, text, message):
    path = tmp_path / "dictionary.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"^{path}: .*{message}"):
        read_dictionary(path)


def test_a_row_repeated_with_the_same_labels_is_one_row(tmp_path):
    path = tmp_path / "dictionary.csv"
    path.write_text("annotation,label:A\nx,1\ny,2\nx,1\n")
    assert read_dictionary(path)["label:A"].to_dict() == {"x": "1", "y": "2"}


def test_a_window_without_annotation_has_no_label_and_is_no_unknown_annotation():
    dictionary = read_dictionary()
    annotation = dictionary.index[0]
    labels, dropped = map_labels([UNANNOTATED, annotation], dictionary, "Walmsley2020")
    assert labels[0] is None and labels[1] == dictionary.loc[annotation, "label:Walmsley2020"]
    assert dropped == {}


def write(tmp_path, text):
    path = tmp_path / "dictionary.csv"
    path.write_text(text)
    return path


def test_labels_and_names_with_surrounding_spaces_are_one_class(tmp_path):
    path = write(tmp_path, "annotation , label:A\nx,walk \ny,walk\n z, sit\n")
    dictionary = read_dictionary(path)
    assert sorted(dictionary["label:A"].unique()) == ["sit", "walk"]
    labels, _ = map_labels(["x", "y", "z"], dictionary, "A")
    assert list(labels) == ["walk", "walk", "sit"]


def test_annotations_match_in_any_case_with_surrounding_spaces_removed(tmp_path):
    dictionary = read_dictionary()
    labels, dropped = map_labels(
        [" 7030 Sleeping;MET 0.95 ", "7030 SLEEPING;met 0.95", "Walking ", "7030 sleeping"],
        dictionary,
        "Willetts2018",
        unknown="drop",
    )
    assert list(labels) == ["sleep", "sleep", "walking", None]
    assert dropped == {"7030 sleeping": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "annotation,label:A\nx,walk\ny,Walk\n",
            r"lines 2 and 3 give label:A labels 'walk' and 'Walk', alike but for case: spell "
            r"a class one way$",
        ),
        (
            "annotation,label:A\nSitting,1\nx,2\nsitting ,3\n",
            r"lines 2 and 4 give annotations 'Sitting' and 'sitting', alike but for case, "
            r"different labels$",
        ),
        (
            "annotation,label:A,label:B\nx,sit,1\ny,Non_Wear,2\n",
            r"line 3: label:A has the label 'Non_Wear', a name the daily summaries keep for "
            r"time in no class \(non-wear, non_wear, no_data\): rename it$",
        ),
        (
            "annotation,label:A,label:B\nx,sit,no_data \n",
            r"line 2: label:B has the label 'no_data', a name the daily summaries keep",
        ),
    ],
    ids=["label-case", "annotation-case", "non-wear", "no-data"],
)
def test_look_alike_and_reserved_labels_are_refused(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=rf"^{path}: {message}"):
        read_dictionary(path)


def test_annotations_alike_but_for_case_with_one_label_are_one(tmp_path):
    dictionary = read_dictionary(write(tmp_path, "annotation,label:A\nSitting,sit\nsitting ,sit\n"))
    assert list(map_labels(["SITTING"], dictionary, "A")[0]) == ["sit"]
