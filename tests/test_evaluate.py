"""The evaluate step: a small CNN trained on a real store predicts its validation and test
windows into one table; any family's loader is called alike."""

import dataclasses
import functools
import os
import re
import types

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
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
            window_length_s=30,
            window_step_s=30,
            sample_rate=100,
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
