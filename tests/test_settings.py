import copy
import shutil

import numpy as np
import pytest
import yaml
from conftest import REPO
from test_windows import Payload

from spectrohar import settings
from spectrohar.errors import DataError
from spectrohar.labels import PACKAGED_DICTIONARY, read_dictionary
from spectrohar.models import MODELS

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEFAULTS = yaml.safe_load((REPO / "config.yaml").read_text())


def with_(section, **values):
    config = copy.deepcopy(DEFAULTS)
    config[section].update(values)
    return config


def test_the_default_config_is_valid():
    typed, participants = settings.check(copy.deepcopy(DEFAULTS), SCHEMA)
    assert len(participants) == DEFAULTS["synthetic"]["participants"]
    assert typed.windows.samples == 3000 and typed.model.options == {"width": 32, "depth": 4}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            with_("labels", scheme="Willetts2019"),
            r"^config labels.scheme: 'Willetts2019' is not one of",
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
            with_("split", test=["P102"]),
            r"^split.test names participant 'P102', which is not in the source",
        ),
        (with_("model", name="resnet"), r"^config model.name: 'resnet' is not one of \['cnn'\]$"),
        (
            with_("model", widht=16),
            r"^config model: Additional properties are not allowed \('widht' was unexpected\)$",
        ),
        (
            with_("train", epochs=3),
            r"^config train: Additional properties are not allowed \('epochs' was unexpected\)$",
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
    with pytest.raises(
        DataError,
        match=r"^labels.dictionary: '.*annotation-label-dictionary.csv' "
        r"does not exist$",
    ):
        settings.check(config, SCHEMA)
    read_dictionary().drop(columns="label:Willetts2018").to_csv(tmp_path / "mine.csv")
    config["labels"]["dictionary"] = str(tmp_path / "mine.csv")
    with pytest.raises(DataError, match=r"mine.csv' has no column 'label:Willetts2018'$"):
        settings.check(config, SCHEMA)


def processed_data(folder, pids):
    np.save(folder / "X.npy", np.zeros((len(pids), 3000, 3), np.float32))
    np.save(folder / "Y.npy", np.array(["sleep"] * len(pids)))
    np.save(folder / "T.npy", np.arange(len(pids)).astype("datetime64[s]"))
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


def test_a_dangling_symlink_is_named(tmp_path):
    config = with_("source", kind="capture24", path=capture24_folder(tmp_path))
    (tmp_path / "P005.csv.gz").symlink_to(tmp_path / "gone.csv.gz")
    with pytest.raises(DataError, match=r"P005.csv.gz: is a broken symbolic link to .*gone"):
        settings.check(config, SCHEMA)


def test_a_batch_of_one_window_is_refused():
    with pytest.raises(DataError, match=r"^config train.batch_size: 1 is less than the minimum"):
        settings.check(with_("train", batch_size=1), SCHEMA)


def test_the_schema_names_every_model_family():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert schema["properties"]["model"]["properties"]["name"]["enum"] == sorted(MODELS)
    assert set(schema["required"]) == set(settings.SECTIONS) == set(DEFAULTS)
