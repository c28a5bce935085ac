import json
import subprocess
import sys

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import skops.io
import torch
import xarray as xr
from sklearn.linear_model import LogisticRegression
from test_cache import participant_stores
from test_train import banded_noise, train_here, write_inputs

from spectrohar.cache.stores import STRING, write_dataset
from spectrohar.cli import main


def test_inspect_prints_what_a_store_holds(tmp_path, capsys):
    labels = np.asarray(["sleep"] * 5 + ["walking"] * 3, dtype=STRING)
    ds = xr.Dataset(
        {
            "spectrogram": (
                ("window", "channel", "frequency", "frame"),
                np.ones((8, 3, 61, 61), "f4"),
            )
        },
        coords={
            "label": ("window", labels),
            "window_start": ("window", pd.date_range("2016-01-01", periods=8, freq="30s")),
        },
        attrs={"n_fft": 120},
    )
    write_dataset(ds, tmp_path / "s.zarr", chunks={"spectrogram": (4, 3, 61, 61)})
    main(["inspect", str(tmp_path / "s.zarr")])
    out = capsys.readouterr().out
    assert "spectrogram (window, channel, frequency, frame) shape=(8, 3, 61, 61)" in out
    assert "dtype=float32 chunks=(4, 3, 61, 61)" in out
    assert f"raw={8 * 3 * 61 * 61 * 4 / 1024:.1f} KiB" in out
    assert "n_fft: 120" in out
    assert "windows per label:\n         5  sleep\n         3  walking\n" in out


def test_inspect_of_a_missing_store_is_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "spectrohar.cli", "inspect", "nowhere.zarr"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith("nowhere.zarr: no such store")


def two_participants(folder):
    """A folder of two participants' spectrogram stores, the third window the only bright one."""
    x = np.zeros((4, 3, 61, 61), "f4")
    x[2] = 1
    participants = ["P001", "P001", "P002", "P002"]
    participant_stores(folder, participants, ["7030 sleeping;MET 0.95"] * 4, x, chunk=2)
    return folder


def test_show_draws_the_window_that_holds_a_time(tmp_path):
    folder = two_participants(tmp_path / "spectrograms")
    out = tmp_path / "w.png"
    main(
        [
            "show",
            str(folder),
            "--participant",
            "P002",
            "--time",
            "2016-01-01 00:01:10",
            "--output",
            str(out),
        ]
    )
    image = matplotlib.image.imread(out)
    assert image.shape[1] > image.shape[0] > 200
    by_index = tmp_path / "i.png"
    main(["show", str(folder), "--window", "2", "--output", str(by_index)])
    assert by_index.read_bytes() == out.read_bytes()
    with pytest.raises(SystemExit):
        main(["show", str(folder), "--participant", "P002", "--time", "2017-01-01"])


def test_inspect_of_a_folder_opens_its_stores_as_one(tmp_path, capsys):
    folder = two_participants(tmp_path / "spectrograms")
    main(["inspect", str(folder)])
    out = capsys.readouterr().out
    assert out.startswith(f"{folder}: 2 stores, 4 windows, stored ")
    assert "spectrogram   (window, channel, frequency, frame) float32" in out
    assert "windows per participant:\n         2  P001\n         2  P002\n" in out
    assert "windows per annotation:\n         4  7030 sleeping;MET 0.95" in out


@pytest.mark.parametrize("time", ["", "half past ten"])
def test_show_names_a_time_it_cannot_read(tmp_path, capsys, time):
    folder = two_participants(tmp_path / "spectrograms")
    with pytest.raises(SystemExit):
        main(["show", str(folder), "--participant", "P002", "--time", time])
    assert f"--time {time!r}: not a time like 2016-11-13 10:30" in capsys.readouterr().err


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model file the train_cnn rule's code saved, of a small network trained for an epoch."""
    folder = tmp_path_factory.mktemp("model")
    train_here(write_inputs(folder, *banded_noise(np.random.default_rng(0))), folder, max_epochs=1)
    return folder / "model.pt"


def predict_stops(capsys, model_file, *extra) -> str:
    """What `spectrohar predict --model model_file` prints on stderr as it stops (exit code 1);
    the model stops it before any recording is read."""
    with pytest.raises(SystemExit) as stopped:
        main(["predict", "r.csv", "--model", str(model_file), "--output", "out", *extra])
    assert stopped.value.code == 1
    return capsys.readouterr().err


def test_predict_with_a_damaged_model_file_is_one_sentence_naming_it(tmp_path, model, capsys):
    data = model.read_bytes()
    whole = "not read, as it is no whole torch file (empty, cut short or damaged)"
    forest = "not read, as it is no model that the train_forest rule saved"
    saved = torch.load(model, weights_only=True)
    files = {
        "cut.pt": (data[:20_000], whole),
        "short.pt": (data[:100], whole),
        "random.pt": (
            np.random.default_rng(1).bytes(5000),
            "not read, as it is not a file of tensors and plain Python values that this pipeline "
            "writes (nothing else is ever unpickled)",
        ),
        # Its settings: spectrograms of 2 channels, for a network of 3.
        "channels.pt": (
            {**saved, "spectrogram": {**saved["spectrogram"], "channels": ["x", "y"]}},
            "not read, as it is no model that the train_cnn rule saved (RuntimeError: Given "
            "groups=1, weight of size [4, 3, 3, 3], expected input[1, 2, 61, 61] to have 3 "
            "channels, but got 2 channels instead)",
        ),
        "estimator.skops": (
            LogisticRegression().fit(np.eye(2), ["a", "b"]),
            f"{forest} (TypeError: it holds an object of type LogisticRegression, not a dict)",
        ),
        "dict.skops": ({"classes": ["a", "b"]}, f"{forest} (KeyError: 'model')"),
    }
    for name, (contents, reason) in files.items():
        path = tmp_path / name
        if isinstance(contents, bytes):
            path.write_bytes(contents)
        elif path.suffix == ".pt":
            torch.save(contents, path)
        else:
            skops.io.dump(contents, path)
        assert predict_stops(capsys, path) == f"spectrohar: {path}: {reason}\n"
    missing = tmp_path / "missing.pt"
    assert predict_stops(capsys, missing) == f"spectrohar: {missing}: no such model file\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '{"classes": ["a", "b"',
            "JSONDecodeError: Expecting ',' delimiter: line 1 column 22 (char 21)",
        ),
        (
            "\x8b\x08 binary",
            "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x8b in position 0: invalid "
            "start byte",
        ),
        (
            '{"classes": ["a", "b", "c"], "window_length_s": 30, "window_step_s": 30}',
            "KeyError: 'start'",
        ),
        # Probabilities of two classes for three.
        (
            json.dumps(
                {"classes": ["a", "b", "c"], "window_length_s": 30, "window_step_s": 30}
                | {name: np.full((2, 2), 0.5).tolist() for name in ("transition", "emission")}
                | {"start": [0.5, 0.5]}
            ),
            "ValueError: its classes, windows and probabilities do not fit together",
        ),
    ],
)
def test_predict_with_a_damaged_hmm_file_is_one_sentence_naming_it(
    tmp_path, model, capsys, text, reason
):
    hmm = tmp_path / "hmm.json"
    hmm.write_bytes(text.encode("latin-1"))
    assert predict_stops(capsys, model, "--hmm", str(hmm)) == (
        f"spectrohar: {hmm}: not read, as it is no HMM the smooth rule saved ({reason})\n"
    )
