import copy
import shutil

import numpy as np
import pytest
import yaml
from conftest import REPO
from test_windows import Payload

from spectrohar import settings
from spectrohar.errors import DataError
from spectrohar.sources import capture24
from spectrohar.sources.labels import PACKAGED_DICTIONARY, read_dictionary

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEFAULTS = yaml.safe_load((REPO / "config.yaml").read_text())


def with_(section, **values):
    config = copy.deepcopy(DEFAULTS)
    config[section].update(values)
    return config


def test_the_default_config_is_valid():
    typed, participants = settings.check(copy.deepcopy(DEFAULTS), SCHEMA)
    assert len(participants) == DEFAULTS["synthetic"]["participants"]
    assert typed.windows.samples == 3000
    assert typed.windows.step == 30  # step_s unset: windows end to end
    assert typed.compare == settings.Compare(
        models=["cnn", "forest"],
        smoothing=["none", "hmm"],
        resamples=1000,
        confidence=0.95,
        seed=42,
    )
    assert typed.cnn == settings.Model("cnn", {"width": 32, "depth": 4})
    assert typed.forest == settings.Model(
        "forest",
        {
            "n_estimators": 100,
            "min_samples_leaf": [1, 4, 16],
            "max_features": "sqrt",
            "max_samples": 30000,
            "class_weight": "balanced",
            "seed": 42,
        },
    )
    assert typed.split.test == ["P101-P151"] and typed.split.test_fraction is None


def test_a_model_section_is_read_as_its_family_and_options():
    values = {"width": 8, "depth": 2}
    cnn = settings.section("cnn", values)
    assert cnn == settings.Model("cnn", {"width": 8, "depth": 2})
    values["width"] = 16  # the options are the section's as read, not a view of it
    assert cnn.options == {"width": 8, "depth": 2}
    forest = settings.section("forest", {"n_estimators": 5, "min_samples_leaf": [2]})
    assert forest == settings.Model("forest", {"n_estimators": 5, "min_samples_leaf": [2]})
    # A rule's params: the sections among them, each family's under its own name.
    typed = settings.sections({"cnn": {"width": 4}, "threads": 3, "model": {"width": 4}})
    assert typed == {"cnn": settings.Model("cnn", {"width": 4})}


def test_a_step_shorter_than_the_window_is_taken():
    typed, _ = settings.check(with_("windows", step_s=15), SCHEMA)
    assert typed.windows.step == 15 and typed.windows.samples == 3000


def test_a_test_fraction_instead_of_test_participants_is_taken():
    typed, _ = settings.check(with_("split", test=[], test_fraction=0.3), SCHEMA)
    assert typed.split.test == [] and typed.split.test_fraction == 0.3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            with_("labels", scheme="Willetts2019"),
            r"^labels.scheme: 'Willetts2019' is not a scheme of \S+annotation-label-dictionary.csv "
            r"\(its label:<scheme> columns: WillettsSpecific2018, WillettsMET2018, ",
        ),
        (
            with_("spectrogram", n_fft=4000),
            r"^config spectrogram.n_fft: 4000 samples is longer than a 30 s window",
        ),
        (
            with_("spectrogram", hop_length=0),
            r"^config spectrogram.hop_length: 0 is less than or equal to the minimum of 0$",
        ),
        (
            with_("spectrogram", hop_length=121),
            r"^config spectrogram.hop_length: 121 is longer than n_fft 120",
        ),
        (with_("spectrogram", window="hannn"), r"^config spectrogram.window: 'hannn'"),
        (
            with_("windows", step_s=45),
            r"^config windows.step_s: 45 s is longer than windows.length_s 30 s, which would skip",
        ),
        (
            with_("windows", step_s=0),
            r"^config windows.step_s: 0 is less than or equal to the minimum of 0$",
        ),
        (
            with_("windows", step_s=14),
            r"^config nonwear: window_minutes 60 must be a multiple of step_minutes 15, and that "
            r"of the windows' step 14 s \(windows.step_s, or windows.length_s when it is unset\)$",
        ),
        (
            with_("split", test_fraction=0.3),
            r"^config split: give either test \(ids and ranges\) or test_fraction, not both",
        ),
        (
            with_("split", test=[]),
            r"^config split: give either test .* and not neither",
        ),
        (
            with_("split", test=[], test_fraction=1.0),
            r"^config split.test_fraction: 1.0 is greater than or equal to the maximum of 1$",
        ),
        (
            with_("compare", models=["cnn", "resnet"]),
            r"^config compare.models.1: 'resnet' is not one of \['cnn', 'forest'\]$",
        ),
        (with_("compare", models=[]), r"^config compare.models: \[\] should be non-empty$"),
        (
            with_("compare", models=["cnn", "cnn"]),
            r"^config compare.models: \['cnn', 'cnn'\] has non-unique elements$",
        ),
        (
            with_("compare", smoothing=["kalman"]),
            r"^config compare.smoothing.0: 'kalman' is not one of \['none', 'hmm'\]$",
        ),
        (
            with_("compare", confidence=1),
            r"^config compare.confidence: 1 is greater than or equal to the maximum of 1$",
        ),
        (
            with_("cnn", widht=16),
            r"^config cnn: Additional properties are not allowed \('widht' was unexpected\)$",
        ),
        (with_("cnn", depth=7), r"^config cnn.depth: 7 is greater than the maximum of 6$"),
        (
            with_("predict", timezone="Europe/Lundon"),
            r"^config predict.timezone: 'Europe/Lundon' is no IANA time zone \(such as "
            r"Europe/London or UTC\)$",
        ),
        (
            with_("forest", n_estimatorz=10),
            r"^config forest: Additional properties are not allowed "
            r"\('n_estimatorz' was unexpected\)$",
        ),
        (
            with_("forest", class_weight="equal"),
            r"^config forest.class_weight: 'equal' is not one of "
            r"\['none', 'balanced', 'balanced_subsample'\]$",
        ),
        (
            with_("forest", min_samples_leaf=[4, 0]),
            r"^config forest.min_samples_leaf.1: 0 is less than the minimum of 1$",
        ),
        (
            with_("forest", max_features=1.5),
            r"^config forest.max_features: 1.5 is greater than the maximum of 1$",
        ),
        (
            with_("train", epochs=3),
            r"^config train: Additional properties are not allowed \('epochs' was unexpected\)$",
        ),
        (
            with_("split", test=["P001-P003", "P999"]),
            r"^split.test names participant 'P999', which is not in the source \(30 participants",
        ),
        (
            with_("source", kind="capture24", path="/nonexistent"),
            r"^source.path '/nonexistent' is not a folder$",
        ),
    ],
)
def test_a_bad_setting_stops_with_one_sentence(config, message):
    with pytest.raises(DataError, match=message):
        settings.check(config, SCHEMA)


def test_command_line_strings_are_read_by_the_schema_type():
    # Snakemake's --config "train={max_epochs: 3, learning_rate: 1e-3}" gives strings.
    config = with_("train", max_epochs="3", learning_rate="1e-3")
    settings.check(config, SCHEMA)
    assert config["train"]["max_epochs"] == 3 and config["train"]["learning_rate"] == 0.001
    # A setting that may also be null: --config "windows={step_s: 15}".
    config = with_("windows", step_s="15")
    settings.check(config, SCHEMA)
    assert config["windows"]["step_s"] == 15.0


def capture24_folder(folder, pids=("P001", "P002", "P003", "P004", "P101", "P102")):
    for pid in pids:
        (folder / f"{pid}.csv.gz").write_text(pid)  # only listed, never read here
    (folder / "metadata.csv").touch()
    shutil.copy(PACKAGED_DICTIONARY, folder / "annotation-label-dictionary.csv")
    return str(folder)


def test_a_capture24_folder_gives_its_participants(tmp_path):
    config = with_("source", kind="capture24", path=capture24_folder(tmp_path))
    assert settings.check(config, SCHEMA)[1] == ["P001", "P002", "P003", "P004", "P101", "P102"]
    config = with_(
        "source", kind="capture24", path=str(tmp_path), participants=["P001-P003", "P101"]
    )
    config["split"]["validation_fraction"] = 0.4
    assert settings.check(config, SCHEMA)[1] == ["P001", "P002", "P003", "P101"]


def test_a_listed_participant_must_be_in_the_folder(tmp_path):
    config = with_(
        "source", kind="capture24", path=capture24_folder(tmp_path), participants=["P009"]
    )
    with pytest.raises(DataError, match=r"^source.participants names participant 'P009', which "):
        settings.check(config, SCHEMA)


def test_a_real_source_needs_a_dictionary_with_the_scheme(tmp_path):
    config = with_("source", kind="capture24", path=capture24_folder(tmp_path))
    (tmp_path / "annotation-label-dictionary.csv").unlink()
    typed, _ = settings.check(config, SCHEMA)  # none beside the data: Capture-24's own
    assert settings.dictionary(typed) == str(PACKAGED_DICTIONARY)
    config["labels"]["dictionary"] = str(tmp_path / "mine.csv")
    with pytest.raises(
        DataError, match=rf"^labels.dictionary: '{tmp_path}/mine.csv' does not exist$"
    ):
        settings.check(config, SCHEMA)
    read_dictionary().drop(columns="label:Willetts2018").to_csv(tmp_path / "mine.csv")
    with pytest.raises(
        DataError,
        match=r"mine.csv \(its label:<scheme> columns: WillettsSpecific2018, WillettsMET2018, "
        r"DohertySpecific2018, Doherty2018, Walmsley2020\)$",
    ):
        settings.check(config, SCHEMA)


def test_any_scheme_of_the_dictionary_in_use_is_taken(tmp_path):
    config = with_("source", kind="capture24", path=capture24_folder(tmp_path))
    mine = read_dictionary()[["label:Walmsley2020"]].set_axis(["label:Mine"], axis=1)
    mine.to_csv(tmp_path / "annotation-label-dictionary.csv")
    config["labels"]["scheme"] = "Mine"
    assert settings.check(config, SCHEMA)[0].labels.scheme == "Mine"


def processed_data(folder, pids):
    np.save(folder / "X.npy", np.zeros((len(pids), 3000, 3), np.float32))
    np.save(folder / "Y.npy", np.array(["sleep"] * len(pids)))
    np.save(folder / "T.npy", (np.arange(len(pids)) * 30).astype("datetime64[s]"))
    np.save(folder / "pid.npy", np.array(pids))
    config = with_("source", kind="npy", path=str(folder))
    config["labels"]["dictionary"] = str(PACKAGED_DICTIONARY)
    return config


def test_processed_data_participants_come_from_pid_npy(tmp_path):
    config = processed_data(tmp_path, ["P002", "P001", "P101", "P001", "P003", "P102"])
    assert settings.check(config, SCHEMA)[1] == ["P001", "P002", "P003", "P101", "P102"]


def test_processed_data_is_checked_once_before_anything_runs(tmp_path):
    config = processed_data(tmp_path, ["P001", "P002", "P101", "P102"])
    np.save(tmp_path / "Y.npy", np.array(["sleep", None, "sleep", "sleep"], dtype=object))
    with pytest.raises(DataError, match=r"Y.npy: holds Python objects \(refused"):
        settings.check(config, SCHEMA)


def test_a_pickled_pid_npy_runs_nothing_on_a_dry_run(tmp_path):
    config = processed_data(tmp_path, ["P001", "P002", "P101", "P102"])
    marker = tmp_path / "marker"
    np.save(tmp_path / "pid.npy", np.array([Payload(marker)] * 4, dtype=object))
    with pytest.raises(DataError, match=r"pid.npy: holds Python objects"):
        settings.check(config, SCHEMA)
    assert not marker.exists()
    np.load(tmp_path / "pid.npy", allow_pickle=True)  # the payload is real
    assert marker.exists()


@pytest.mark.parametrize(
    "stray", ["P121 (copy)", "P{participant}", "P00\u0661", "P\u00e901", "P" + "1" * 64]
)
def test_a_file_whose_name_is_no_participant_id_is_named(tmp_path, stray):
    config = with_("source", kind="capture24", path=capture24_folder(tmp_path))
    (tmp_path / f"{stray}.csv.gz").write_text("stray")
    with pytest.raises(DataError, match=r"is not a usable participant id \(ASCII letters"):
        settings.check(config, SCHEMA)


def test_a_pid_that_is_no_participant_id_is_named(tmp_path):
    config = processed_data(tmp_path, ["P001", "P002", "P101", "P102/../x"])
    with pytest.raises(DataError, match=r"pid.npy: 'P102/../x' is not a usable participant id"):
        settings.check(config, SCHEMA)


def test_a_copied_recording_under_another_name_is_refused_naming_both(tmp_path):
    config = with_("source", kind="capture24", path=capture24_folder(tmp_path))
    shutil.copy(tmp_path / "P101.csv.gz", tmp_path / "P101_old.csv.gz")
    with pytest.raises(
        DataError,
        match=rf"^{tmp_path}/P101.csv.gz and {tmp_path}/P101_old.csv.gz are the same file",
    ):
        settings.check(config, SCHEMA)


def test_files_alike_but_for_their_last_byte_are_two_recordings(tmp_path):
    # Equal in size and in the first MiB that is compared first: read whole, they differ.
    head = np.random.default_rng(0).bytes(capture24.HEAD + 10)
    (tmp_path / "a.cwa").write_bytes(head + b"a")
    (tmp_path / "b.cwa").write_bytes(head + b"b")
    capture24.refuse_identical_files([tmp_path / "a.cwa", tmp_path / "b.cwa"])
    (tmp_path / "c.cwa").write_bytes(head + b"a")
    with pytest.raises(DataError, match=r"a.cwa and .*c.cwa are the same file"):
        capture24.refuse_identical_files([tmp_path / name for name in ("a.cwa", "b.cwa", "c.cwa")])


def test_a_dangling_symlink_is_named(tmp_path):
    config = with_("source", kind="capture24", path=capture24_folder(tmp_path))
    (tmp_path / "P005.csv.gz").symlink_to(tmp_path / "gone.csv.gz")
    with pytest.raises(DataError, match=r"P005.csv.gz: is a broken symbolic link to .*gone"):
        settings.check(config, SCHEMA)


def test_a_batch_of_one_window_is_refused():
    with pytest.raises(DataError, match=r"^config train.batch_size: 1 is less than the minimum"):
        settings.check(with_("train", batch_size=1), SCHEMA)
