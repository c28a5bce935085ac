"""The evaluate step: a small CNN trained on a real store predicts its validation and test
windows into one table; any family's loader is called alike."""

import dataclasses
import functools
import os
import re
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from conftest import write_dictionary
from test_train import (
    CLASSES,
    LABELS,
    PARTICIPANTS,
    THREADS,
    assert_ran_nothing,
    banded_noise,
    plant,
    train_here,
    write_inputs,
)

from spectrohar import settings
from spectrohar.cache.layout import spectrogram_dataset
from spectrohar.cache.stores import write_dataset
from spectrohar.errors import DataError
from spectrohar.evaluation import evaluate
from spectrohar.models import FAMILIES, Loaded, cnn
from spectrohar.models.network import CNN
from spectrohar.sources.labels import labelling

STARTS = pd.date_range("2016-01-01", periods=len(PARTICIPANTS), freq="30s")


def params():
    """The evaluate rule's params, typed: the device and the labels section."""
    return {"device": "cpu", "labels": settings.section("labels", LABELS)}


def predict_here(inputs, checkpoint, folder, family="cnn", threads=THREADS):
    """Predict in this process as the predict rule does, streaming the windows by chunks; the
    table's path."""
    table = folder / "predictions.parquet"
    evaluate.build(family, *inputs, checkpoint, table, memory_mb=0, threads=threads, **params())
    return table


def expected_probabilities(checkpoint, x):
    """The saved network's class probabilities of the windows `x`, computed here."""
    saved = torch.load(checkpoint, weights_only=True)
    model = CNN(3, 3, **saved["model_settings"]["options"])
    model.load_state_dict(saved["weights"])
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x)).softmax(dim=1).numpy()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The arrays of a small store, the store and split table written from them, and a model
    trained on them for one epoch, saved at the path returned last; shared by the module's
    tests, which read them only."""
    folder = tmp_path_factory.mktemp("trained")
    labels, x = banded_noise(np.random.default_rng(0))
    inputs = write_inputs(folder, labels, x)
    train_here(inputs, folder, max_epochs=1)
    return labels, x, inputs, folder / "model.pt"


def test_the_validation_and_test_windows_are_predicted(trained, tmp_path):
    labels, x, inputs, model = trained
    table = pd.read_parquet(predict_here(inputs, model, tmp_path))

    probabilities = [f"probability_{cls}" for cls in CLASSES]
    assert table.columns.tolist() == [
        "set",
        "participant",
        "window_start",
        "label",
        "predicted",
        *probabilities,
    ]
    assert table.set.tolist() == ["validation"] * 128 + ["test"] * 64
    rows = np.flatnonzero(np.isin(PARTICIPANTS, ["P002", "P101"]))  # P002 validates, P101 tests
    assert table.participant.tolist() == PARTICIPANTS[rows].tolist()
    assert table.label.tolist() == labels[rows].tolist()
    assert (table.window_start == STARTS[rows]).all()
    np.testing.assert_allclose(table[probabilities].sum(axis=1), 1, rtol=1e-5)
    assert (table.predicted == np.array(CLASSES)[table[probabilities].to_numpy().argmax(1)]).all()
    assert table.attrs == {"model": "cnn", "device": "cpu"}

    # Each row holds the model's probabilities for its own window.
    expected = expected_probabilities(model, x[rows])
    np.testing.assert_allclose(table[probabilities].to_numpy(), expected, rtol=1e-4, atol=1e-6)


def test_the_cnn_loader_reads_a_set_on_the_rules_threads(trained, cache_pools):
    labels, x, (stores, split, dictionary), model = trained
    # More threads than the machine's CPUs: the cache must take the rule's, not count its own.
    threads = len(os.sched_getaffinity(0)) + 1
    loaded = cnn.load(model, "cpu", threads)
    assert loaded.classes == CLASSES
    # The windows and the labels it was trained on: the stores' and the train rule's.
    assert (loaded.window_length_s, loaded.sample_rate) == (30, 100)
    assert loaded.labels == params()["labels"] and loaded.device == "cpu"
    label = labelling(dictionary, params()["labels"])
    coords, probabilities = loaded.predict_set(stores, split, "test", label, 0)
    assert cache_pools and set(cache_pools) == {threads}
    rows = np.flatnonzero(PARTICIPANTS == "P101")
    assert coords.participant.values.tolist() == ["P101"] * len(rows)
    assert (pd.DatetimeIndex(coords.window_start.values) == STARTS[rows]).all()
    expected = expected_probabilities(model, x[rows])
    np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)


def test_the_familys_loader_gives_the_table(tmp_path, rng, monkeypatch):
    """A family is loaded by its `load` in models.FAMILIES, called as the rule calls any."""
    labels, x = banded_noise(rng)
    stores, split, dictionary = write_inputs(tmp_path, labels, x)
    model_file = tmp_path / "model.bin"
    calls = []
    # Fixed probabilities per window, in the order of the loader's classes (not sorted).
    classes = ["c", "a", "b"]
    odds = rng.dirichlet(np.ones(3), size=len(PARTICIPANTS))

    def loader(path, device, threads):
        calls.append(("load", path, device, threads))

        def predict_set(stores_, split_table, name, label, memory_mb):
            calls.append(("set", stores_, split_table, name, memory_mb))
            rows = np.flatnonzero(PARTICIPANTS == {"validation": "P002", "test": "P101"}[name])
            coords = xr.Dataset(
                coords={
                    "participant": ("window", PARTICIPANTS[rows]),
                    "window_start": ("window", STARTS[rows]),
                    "label": ("window", label(labels[rows])),  # labelled by the dictionary
                }
            )
            return coords, odds[rows]

        return Loaded(
            classes=classes,
            inputs={},  # settings of no store
            labels=params()["labels"],
            device="cpu",
            predict_set=predict_set,
            predict_windows=None,  # not the predict rule's
        )

    monkeypatch.setitem(FAMILIES, "other", types.SimpleNamespace(load=loader))
    table = pd.read_parquet(
        predict_here((stores, split, dictionary), model_file, tmp_path, "other")
    )

    assert calls == [
        ("load", model_file, "cpu", THREADS),
        ("set", stores, split, "validation", 0),
        ("set", stores, split, "test", 0),
    ]
    rows = np.flatnonzero(np.isin(PARTICIPANTS, ["P002", "P101"]))
    assert table.set.tolist() == ["validation"] * 128 + ["test"] * 64
    assert table.participant.tolist() == PARTICIPANTS[rows].tolist()
    assert table.label.tolist() == labels[rows].tolist()
    columns = [f"probability_{cls}" for cls in classes]
    np.testing.assert_array_equal(table[columns].to_numpy(), odds[rows])
    assert table.predicted.tolist() == np.array(classes)[odds[rows].argmax(axis=1)].tolist()
    assert table.attrs == {"model": "other", "device": "cpu"}


def test_a_planted_checkpoint_runs_nothing(tmp_path, rng):
    planted, marker = tmp_path / "model.pt", tmp_path / "MARKER"
    plant(planted, marker)
    message = (
        f"{planted}: not read, as it is not a file of tensors and plain Python values that this "
        "pipeline writes (nothing else is ever unpickled)"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_here(write_inputs(tmp_path, *banded_noise(rng)), planted, tmp_path)
    assert_ran_nothing(planted, marker)


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("validation", "P001,train\nP150,validation\nP151,validation\nP101,test\n"),
        ("test", "P001,train\nP002,validation\nP151,test\nP150,test\n"),
    ],
)
def test_a_set_without_windows_is_an_error(trained, tmp_path, name, split):
    stores, _, dictionary = trained[2]
    table = tmp_path / "split.csv"
    table.write_text(f"participant,set\n{split}")
    message = (
        f"{table}: the {name} participants P150, P151 have no labelled windows in the 3 stores "
        f"in {stores[0].parent}"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_here((stores, table, dictionary), trained[3], tmp_path)
    assert not (tmp_path / "predictions.parquet").exists()


def test_non_finite_probabilities_stop_prediction(trained, tmp_path):
    labels, x, _, model = trained
    x = x.copy()
    x[400, 1, 30, 30] = np.nan  # the 17th window of P101, at 400 * 30 s
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    inputs = write_inputs(damaged, labels, x)
    message = (
        f"{model}: gives non-finite probabilities for 1 of 64 test windows "
        "(the first: P101 at 2016-01-01 03:20:00); check the stores with `spectrohar inspect`"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_here(inputs, model, damaged)
    assert not (damaged / "predictions.parquet").exists()


@pytest.mark.parametrize("unknown", ["error", "drop"])
def test_windows_of_unknown_annotations_are_left_out_or_stop(trained, tmp_path, unknown):
    labels, x, _, model = trained
    labels = labels.copy()
    labels[[300, 301, 420]] = "walking; not in the dictionary"  # two P002, one P101 window
    folder = tmp_path / unknown
    folder.mkdir()
    inputs = write_inputs(folder, labels, x)
    table = folder / "predictions.parquet"
    run = functools.partial(
        evaluate.build,
        "cnn",
        *inputs,
        model,
        table,
        memory_mb=0,
        threads=THREADS,
        **params(),
    )
    if unknown == "error":
        with pytest.raises(DataError, match="1 annotations are missing under label:Test"):
            run()
        return
    run.keywords["labels"] = dataclasses.replace(run.keywords["labels"], unknown="drop")
    run()
    rows = np.flatnonzero(np.isin(PARTICIPANTS, ["P002", "P101"]))
    kept = np.setdiff1d(rows, [300, 301, 420])
    predictions = pd.read_parquet(table)
    assert predictions.label.tolist() == labels[kept].tolist()
    assert len(predictions) == len(rows) - 3


def written(path, data):
    """`data`, bytes or what torch.save writes, saved at `path`."""
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        torch.save(data, path)
    return path


def damaged_model_files(model, folder, rng) -> dict:
    """Files in place of the model file `model`, each damaged its way, by their reasons."""
    data, saved = model.read_bytes(), torch.load(model, weights_only=True)
    whole = "not read, as it is no whole torch file (empty, cut short or damaged)"
    ours = "not read, as it is no model that the train_cnn rule saved"
    two_classes = {**saved, "classes": ["a", "b"]}  # the weights are of a network of three
    files = {
        whole: [data[:20_000], data[:100], b""],
        "not read, as it is not a file of tensors and plain Python values that this pipeline "
        "writes (nothing else is ever unpickled)": [rng.bytes(5000)],
        f"{ours} (KeyError: 'classes')": [{"weights": saved["weights"]}],
        f"{ours} (TypeError: it holds an object of type list, not a dict)": [[1, 2]],
        f"{ours} (RuntimeError: Error(s) in loading state_dict for CNN: size mismatch": [
            two_classes
        ],
    }
    return {
        written(folder / f"{i}-{j}.pt", damaged): reason
        for i, (reason, damages) in enumerate(files.items())
        for j, damaged in enumerate(damages)
    }


def test_a_damaged_model_file_is_one_sentence_naming_it(trained, tmp_path, rng):
    inputs, model = trained[2], trained[3]
    for path, reason in damaged_model_files(model, tmp_path, rng).items():
        with pytest.raises(DataError) as error:
            predict_here(inputs, path, tmp_path)
        assert str(error.value).startswith(f"{path}: {reason}")
        assert "\n" not in str(error.value)
        assert not (tmp_path / "predictions.parquet").exists()


def test_the_workflow_logs_a_damaged_model_files_sentence(trained, tmp_path):
    """As the evaluate rule's script runs it: the sentence on the console and in the log."""
    (stores, split, dictionary), model = trained[2:]
    cut = written(tmp_path / "model.pt", model.read_bytes()[:20_000])
    log = tmp_path / "evaluate.log"
    script = (
        "import sys; from spectrohar import settings; from spectrohar.evaluation import evaluate;"
        "from spectrohar.log import run_logged; "
        "run_logged(sys.argv[1], evaluate.build, family='cnn', stores=sys.argv[2:-3], "
        "split_table=sys.argv[-3], dictionary=sys.argv[-2], model_file=sys.argv[-1], "
        "predictions='p.parquet', device='cpu', memory_mb=0, threads=1, "
        f"labels=settings.section('labels', {LABELS!r}))"
    )
    arguments = [log, *stores, split, dictionary, cut]
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, arguments)], capture_output=True, text=True
    )
    sentence = f"{cut}: not read, as it is no whole torch file (empty, cut short or damaged)"
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"spectrohar: {sentence}"]
    last = log.read_text().splitlines()[-1]
    assert last.endswith(f" ERROR spectrohar.evaluation.evaluate: {sentence}")


def edited(model, path, **parts):
    """The model file `model` saved at `path` with its parts `parts` (spectrogram: its settings
    changed) in place of its own."""
    saved = torch.load(model, weights_only=True)
    saved["spectrogram"] |= parts.pop("spectrogram", {})
    torch.save({**saved, **parts}, path)
    return path


RETRAIN = "(retrain it: snakemake --cores 8 --forcerun train_cnn)"


@pytest.mark.parametrize(
    ("name", "value", "theirs"),
    [
        ("window_length_s", 10, "30"),
        ("sample_rate", 50, "100"),
        ("n_fft", 60, "120"),
        ("hop_length", 24, "48"),
        ("window", "hamming", "hann"),
        ("channels", ["x", "y", "norm"], "x, y, z"),
        ("dtype", "float16", "float32"),
    ],
)
def test_a_model_of_other_stores_is_one_sentence_naming_both_values(
    trained, tmp_path, name, value, theirs
):
    inputs, model = trained[2], trained[3]
    other = edited(model, tmp_path / "model.pt", spectrogram={name: value})
    shown = ", ".join(value) if isinstance(value, list) else value
    message = (
        f"{other}: a model trained on stores of {name} {shown}, but {inputs[0][0]} has {name} "
        f"{theirs} {RETRAIN}"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_here(inputs, other, tmp_path)
    assert not (tmp_path / "predictions.parquet").exists()


def test_a_model_of_other_classes_is_one_sentence_naming_both(trained, tmp_path):
    inputs, model = trained[2], trained[3]
    other = edited(model, tmp_path / "model.pt", classes=["a", "b", "walking"])
    message = (
        f"{other}: a model trained on the classes a, b, walking, but the training participants "
        f"of {inputs[1]} have the classes a, b, c under labels.scheme Test in the stores in "
        f"{inputs[0][0].parent} {RETRAIN}"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_here(inputs, other, tmp_path)


def test_a_model_trained_on_10_s_windows_of_other_classes_is_refused(trained, tmp_path, rng):
    """The issue's case: such a model in place of the 30 s stores' model scored kappa 0."""
    frames = (10 * 100 - 120) // 48 + 1
    stores = []
    for participant, start in (("P001", "2016-01-01"), ("P002", "2016-01-02")):
        annotations = ["sitting", "lying"] * 8
        write_dataset(
            spectrogram_dataset(
                rng.normal(-6, 1, (16, 3, 61, frames)).astype(np.float32),
                channels=["x", "y", "z"],
                participant=[participant] * 16,
                window_start=pd.date_range(start, periods=16, freq="10s"),
                annotation=annotations,
                n_fft=120,
                hop_length=48,
                window="hann",
                sample_rate=100,
                window_length_s=10,
                window_step_s=10,
                dtype="float32",
            ),
            tmp_path / f"{participant}.zarr",
        )
        stores.append(tmp_path / f"{participant}.zarr")
    table = tmp_path / "split.csv"
    table.write_text("participant,set\nP001,train\nP002,validation\n")
    dictionary = write_dictionary(tmp_path / "dictionary.csv", {"sitting": "sit", "lying": "lie"})
    train_here((stores, table, dictionary), tmp_path, max_epochs=1)
    assert torch.load(tmp_path / "model.pt", weights_only=True)["classes"] == ["lie", "sit"]

    message = (
        f"{tmp_path / 'model.pt'}: a model trained on stores of window_length_s 10, but "
        f"{trained[2][0][0]} has window_length_s 30 {RETRAIN}"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_here(trained[2], tmp_path / "model.pt", tmp_path)
