import json
import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import write_dictionary
from test_cache import as_labels, participant_stores, spectrogram_store

from spectrohar import settings
from spectrohar.cache.reader import Spectrograms
from spectrohar.errors import DataError
from spectrohar.models import cnn
from spectrohar.models.network import CNN
from spectrohar.models.training import fit_network, split_windows
from spectrohar.sources.labels import labelling
from spectrohar.versions import versions

CLASSES = ["a", "b", "c"]


def separable(path, n, rng, memory_budget_mb=4000):
    """A store of spectrogram-shaped noise whose class is a bright frequency band."""
    y = rng.integers(0, 3, n)
    x = rng.normal(-6, 1, size=(n, 3, 61, 61)).astype(np.float32)
    for cls in range(3):
        x[y == cls, :, 10 + 15 * cls : 14 + 15 * cls] += 4
    spectrogram_store(path, ["P001"] * n, np.array(CLASSES)[y], x, chunk=32)
    return Spectrograms([path], ["P001"], CLASSES, as_labels, memory_budget_mb=memory_budget_mb)


def fit_separable(folder, rng, n, *, streamed=False, **fitting):
    """A width-4 CNN fitted on separable stores of n training and n/2 validation windows."""
    torch.manual_seed(0)
    model = CNN(n_classes=3, in_channels=3, width=4)
    train_windows = separable(
        folder / "train.zarr", n, rng, memory_budget_mb=0 if streamed else 4000
    )
    validation = separable(folder / "validation.zarr", n // 2, rng)
    fitting = {"batch_size": 32, "device": torch.device("cpu"), "seed": 0, **fitting}
    return model, *fit_network(model, train_windows, validation, **fitting)


def test_fit_learns_and_keeps_the_best_validation_epoch(tmp_path, rng):
    model, history, state, best_epoch = fit_separable(
        tmp_path,
        rng,
        192,
        streamed=True,
        max_epochs=4,
        learning_rate=3e-3,
        patience=4,
        monitor="val_loss",
    )
    assert list(history.epoch) == [1, 2, 3, 4]
    assert history.val_kappa.iloc[-1] > 0.8
    assert best_epoch == history.epoch[history.val_loss.idxmin()]
    assert history.selected.tolist() == [e == best_epoch for e in history.epoch]
    assert set(state) == set(model.state_dict())


def test_early_stopping_waits_patience_epochs(tmp_path, rng):
    _, history, _, best_epoch = fit_separable(
        tmp_path, rng, 64, max_epochs=30, learning_rate=0.0, patience=2, monitor="val_kappa"
    )
    # With a zero learning rate nothing improves after the first epoch.
    assert best_epoch == 1 and len(history) == 3


@pytest.mark.parametrize("shape", [(61, 61), (61, 19), (101, 121)])  # 30 s, 10 s, 60 s windows
@pytest.mark.parametrize("depth", [2, 4])
def test_the_cnn_gives_one_score_per_class(shape, depth):
    model = CNN(n_classes=5, in_channels=3, width=4, depth=depth)
    assert model(torch.zeros(2, 3, *shape)).shape == (2, 5)


def test_the_default_cnn_is_the_tutorials():
    model = CNN(n_classes=5, in_channels=3, width=32)
    convolutions = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    shapes = [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convolutions]
    assert shapes == [
        (3, 32, (3, 3), (2, 2)),
        (32, 64, (3, 3), (2, 2)),
        (64, 128, (4, 4), (2, 2)),
        (128, 256, (4, 4), (2, 2)),
        (256, 512, (4, 4), (1, 1)),
        (512, 5, (1, 1), (1, 1)),
    ]
    x = torch.zeros(2, 3, 61, 61)
    assert model[3](model[2](model[1](model[0](x)))).shape == (2, 256, 4, 4)


MODEL = {"width": 4}  # the cnn section
TRAINING = {
    "device": "cpu",
    "max_epochs": 6,
    "batch_size": 32,
    "learning_rate": 3e-3,
    "patience": 10,
    "monitor": "val_loss",
    "class_weight": "balanced",
    "mixed_precision": False,
    "channels_last": False,
    "deterministic": False,
    "seed": 0,
}
# The test stores' annotations are their labels, under a scheme of their own.
LABELS = {"scheme": "Test", "dictionary": None, "unknown": "error"}
MEMORY_MB = 0  # the rule's mem_mb: the splits are streamed by chunks
THREADS = 2  # the rule's threads

# As workflow/scripts/train.py calls it.
TRAIN = """
import json, sys
from spectrohar import settings
from spectrohar.models import FAMILIES
stores, *paths = json.loads(sys.argv[1])
params = json.loads(sys.argv[2])
FAMILIES["cnn"].module.fit(stores, *paths, memory_mb=0, threads=2, **settings.sections(params))
"""

# P001 trains, P002 validates, P101 is tested.
PARTICIPANTS = np.array(["P001"] * 256 + ["P002"] * 128 + ["P101"] * 64)


def banded_noise(rng):
    """Labels of PARTICIPANTS' windows and spectrogram-shaped noise in which each class
    brightens a frequency band of its own."""
    y = rng.choice(3, len(PARTICIPANTS), p=[0.6, 0.3, 0.1])
    x = rng.normal(-6, 1, size=(len(y), 3, 61, 61)).astype(np.float32)
    for cls in range(3):
        x[y == cls, :, 10 + 15 * cls : 14 + 15 * cls] += 2
    return np.array(CLASSES)[y], x


def write_inputs(folder, labels, x, split="P001,train\nP002,validation\nP101,test\n"):
    """A spectrogram store per participant of PARTICIPANTS' windows, annotated with `labels`,
    a split table and a dictionary of the labels."""
    stores = participant_stores(folder, PARTICIPANTS, labels, x, chunk=32)
    table = folder / "split.csv"
    table.write_text(f"participant,set\n{split}")
    return stores, table, write_dictionary(folder / "dictionary.csv", {c: c for c in CLASSES})


@pytest.fixture
def inputs(tmp_path, rng):
    """A small spectrogram store and its split table."""
    return write_inputs(tmp_path, *banded_noise(rng))


def config(**training):
    """The train_cnn rule's sections: cnn, train and labels, with `training` changed."""
    return {"cnn": MODEL, "train": {**TRAINING, **training}, "labels": LABELS}


def sections(**training):
    """The typed cnn, train and labels sections that `cnn.fit` takes, with `training`
    changed."""
    return settings.sections(config(**training))


def train_here(inputs, folder, threads=THREADS, **training):
    """Train in this process as the train_cnn rule does, writing model.pt and history.csv to
    `folder`."""
    cnn.fit(
        *inputs,
        folder / "model.pt",
        folder / "history.csv",
        memory_mb=MEMORY_MB,
        threads=threads,
        **sections(**training),
    )


def start_training(inputs, folder):
    """Train deterministically in a process of its own, which a test can kill."""
    folder.mkdir(exist_ok=True)
    stores, *paths = [*inputs, folder / "model.pt", folder / "history.csv"]
    paths = [list(map(str, stores)), *map(str, paths)]
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN, json.dumps(paths), json.dumps(config(deterministic=True))]
    )


def outcome(folder):
    history = pd.read_csv(folder / "history.csv").drop(columns=["seconds", "windows_per_s"])
    return history, torch.load(folder / "model.pt", weights_only=True)["weights"]


def assert_same(a, b):
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1].keys() == b[1].keys()
    assert all(torch.equal(a[1][k], b[1][k]) for k in a[1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The inputs, and a deterministic training on them run to its end in a process of its
    own, for the tests that train again to compare."""
    folder = tmp_path_factory.mktemp("reference")
    inputs = write_inputs(folder, *banded_noise(np.random.default_rng(0)))
    assert start_training(inputs, folder / "run").wait() == 0
    return inputs, folder / "run"


@pytest.mark.slow
def test_the_same_settings_train_the_same_model_twice(reference, tmp_path):
    inputs, first = reference
    assert start_training(inputs, tmp_path / "second").wait() == 0
    assert_same(outcome(first), outcome(tmp_path / "second"))
    assert len(outcome(first)[0]) == 6


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_epoch(reference, tmp_path):
    inputs, finished = reference
    killed = start_training(inputs, tmp_path / "resumed")
    state = tmp_path / "resumed" / "train-state.pt"
    while killed.poll() is None and not (
        state.exists() and len(torch.load(state, weights_only=True)["history"]) >= 2
    ):
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    assert not (tmp_path / "resumed" / "history.csv").exists(), "finished before it was killed"
    epochs_done = len(torch.load(state, weights_only=True)["history"])
    assert 2 <= epochs_done < 6

    assert start_training(inputs, tmp_path / "resumed").wait() == 0
    assert_same(outcome(finished), outcome(tmp_path / "resumed"))
    assert not state.exists()


def test_mixed_precision_and_channels_last_train_too(tmp_path, rng):
    _, history, _, _ = fit_separable(
        tmp_path,
        rng,
        192,
        max_epochs=4,
        learning_rate=3e-3,
        patience=4,
        monitor="val_loss",
        mixed_precision=True,
        channels_last=True,
    )
    assert history.val_kappa.max() > 0.8


def test_a_model_that_cannot_take_the_spectrograms_is_a_clear_error(inputs, tmp_path):
    typed = settings.sections({"cnn": {"depth": 7}, "train": TRAINING, "labels": LABELS})
    with pytest.raises(DataError, match=r"config cnn \{'depth': 7\} cannot take"):
        cnn.fit(
            *inputs,
            tmp_path / "model.pt",
            tmp_path / "history.csv",
            memory_mb=0,
            threads=1,
            **typed,
        )


class Touch:
    """An object whose unpickling creates the file `marker`: the payload of a planted pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def plant(path, marker):
    """A torch file at `path`, shaped like a training state, whose unpickling creates `marker`."""
    torch.save({"fingerprint": None, "history": [Touch(marker)]}, path)


def assert_ran_nothing(planted, marker):
    """`marker` is absent, and unpickling the planted file would have created it."""
    assert not marker.exists()
    torch.load(planted, weights_only=False)
    assert marker.exists()


def test_a_planted_state_runs_nothing_and_training_starts_fresh(inputs, tmp_path, caplog):
    planted, marker = tmp_path / "planted.pt", tmp_path / "MARKER"
    plant(planted, marker)
    shutil.copy(planted, tmp_path / "train-state.pt")
    with caplog.at_level(logging.WARNING, logger="spectrohar.models.training"):
        train_here(inputs, tmp_path, max_epochs=1)
    assert caplog.messages == [
        f"{tmp_path / 'train-state.pt'}: not read, as it is not a file of tensors and plain Python "
        "values that this pipeline writes (nothing else is ever unpickled); training starts fresh"
    ]
    assert pd.read_csv(tmp_path / "history.csv").epoch.tolist() == [1]
    assert_ran_nothing(planted, marker)


def test_a_damaged_state_is_a_warning_and_training_starts_fresh(inputs, tmp_path, caplog):
    train_here(inputs, tmp_path, max_epochs=1)
    state = tmp_path / "train-state.pt"
    state.write_bytes((tmp_path / "model.pt").read_bytes()[:20_000])  # a torch file cut short
    with caplog.at_level(logging.WARNING, logger="spectrohar.models.training"):
        train_here(inputs, tmp_path, max_epochs=1)
    assert caplog.messages == [
        f"{state}: not read, as it is no whole torch file (empty, cut short or damaged); "
        "training starts fresh"
    ]
    torch.save([1, 2], state)  # tensors and plain values, but no state: not resumed
    train_here(inputs, tmp_path, max_epochs=1)
    assert pd.read_csv(tmp_path / "history.csv").epoch.tolist() == [1]


def first_batch_with_nan_or_inf(stores):
    """(position from 1, number of batches) of the first batch of the first epoch that holds a
    non-finite value, in the order that training draws them."""
    windows = Spectrograms(stores, ["P001"], CLASSES, as_labels, memory_budget_mb=MEMORY_MB)
    rng = np.random.default_rng(TRAINING["seed"])
    finite = [bool(x.isfinite().all()) for x, _ in windows.batches(TRAINING["batch_size"], rng)]
    return finite.index(False) + 1, len(finite)


# Each value and each precision once: the check is the same for both values.
@pytest.mark.parametrize(("value", "mixed_precision"), [(np.nan, False), (np.inf, True)])
def test_a_non_finite_training_loss_stops_training(tmp_path, rng, value, mixed_precision):
    labels, x = banded_noise(rng)
    x[100, 1, 30, 30] = value  # a training window
    inputs = write_inputs(tmp_path, labels, x)
    batch, batches = first_batch_with_nan_or_inf(inputs[0])
    message = r"training loss is (nan|-?inf) at epoch 1, " + re.escape(
        f"batch {batch} (of {batches}): the spectrograms or the settings give non-finite "
        "values; check the cache with `spectrohar inspect` or lower train.learning_rate"
    )
    with pytest.raises(DataError, match=f"^{message}$"):
        train_here(inputs, tmp_path, max_epochs=2, mixed_precision=mixed_precision)
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "history.csv").exists()


def test_a_non_finite_validation_loss_stops_training(tmp_path, rng):
    labels, x = banded_noise(rng)
    x[300, 1, 30, 30] = np.nan  # a validation window
    inputs = write_inputs(tmp_path, labels, x)
    with pytest.raises(DataError, match=r"^validation loss is nan at epoch 1: the spectrograms"):
        train_here(inputs, tmp_path, max_epochs=2)
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "history.csv").exists()


def test_validation_participants_without_windows_are_an_error(tmp_path, rng):
    inputs = write_inputs(
        tmp_path, *banded_noise(rng), split="P001,train\nP010,validation\nP003,validation\n"
    )
    message = (
        f"{inputs[1]}: the validation participants P003, P010 have no labelled windows in "
        f"the 3 stores in {tmp_path}"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        train_here(inputs, tmp_path)


def test_validation_participants_without_the_training_classes_are_an_error(tmp_path, rng):
    labels, x = banded_noise(rng)
    training = PARTICIPANTS == "P001"
    labels[training] = np.where(labels[training] == "c", "a", labels[training])
    labels[PARTICIPANTS == "P002"] = "c"
    inputs = write_inputs(tmp_path, labels, x)
    message = (
        f"{inputs[1]}: the validation participants P002 have no windows of the training classes "
        "a, b"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        train_here(inputs, tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_train_device_cuda_without_a_gpu_stops_with_a_sentence(inputs, tmp_path):
    with pytest.raises(DataError, match=r"^train.device is 'cuda' but torch sees no CUDA device$"):
        train_here(inputs, tmp_path, device="cuda")
    assert not (tmp_path / "model.pt").exists()


def test_the_splits_budget_is_a_part_of_the_rules_memory(inputs):
    # The training split: P001's 256 windows of 3 x 61 x 61 float32.
    stores, split, dictionary = inputs
    window_mb = 3 * 61 * 61 * 4 / 2**20
    label = labelling(dictionary, settings.section("labels", LABELS))
    for memory_mb, held in [(4 * 256 * window_mb, True), (4 * 256 * window_mb - 1, False)]:
        # training.CACHE_FRACTION (a half) of mem_mb, for two splits: a quarter for each.
        training = split_windows(
            stores, split, "train", None, label, memory_mb=memory_mb, threads=THREADS
        )
        assert training.in_memory == held


def test_the_rules_options_and_threads_reach_the_model_and_the_cache(inputs, tmp_path, cache_pools):
    # More threads than the machine's CPUs: the cache must take the rule's, not count its own.
    threads = len(os.sched_getaffinity(0)) + 1
    train_here(inputs, tmp_path, threads=threads, max_epochs=1)
    # Both splits streamed (memory_mb 0): the training and the validation reads, all on them.
    assert len(cache_pools) >= 2 and set(cache_pools) == {threads}
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert saved["versions"] == versions()  # of the packages that trained it
    assert saved["model_settings"] == {"name": "cnn", "options": MODEL}
    assert saved["classes"] == CLASSES
    # The network was built with the section's width: 4 filters in the first layer, not 32.
    assert saved["weights"]["0.0.weight"].shape == (4, 3, 3, 3)
