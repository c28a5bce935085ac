"""Tests for spectrohar.report: real zarr store, real PNG and HTML files in tmp_path."""

import base64
import html
import json
import re

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
)

from spectrohar.report import build, pick_examples, write_report
from spectrohar.stores import write_dataset

# Like evaluate.py, metrics lists only the test set's classes: "mvpa" has no window in the
# store, "sleep" none among the test windows; the examples figure has a row for each.
TEST_CLASSES = ["light", "mvpa", "sedentary"]
CLASSES = ["light", "mvpa", "sedentary", "sleep"]
STRING = np.dtypes.StringDType()  # as the pipeline's stores hold text
STORE_LABELS = ["sedentary"] * 20 + ["light"] * 18 + ["sleep"] * 2
FIGURE_NAMES = ["spectrogram_examples", "training_curves", "confusion_matrix", "participant_kappa"]


@pytest.fixture
def spectrograms(tmp_path):
    rng = np.random.default_rng(42)
    n, freqs, frames = len(STORE_LABELS), np.linspace(0, 50, 61), np.linspace(0, 30, 61)
    labels = np.array(STORE_LABELS)[rng.permutation(n)]
    # Power falling with frequency, louder for more active classes, plus noise.
    level = np.array([{"sleep": -9, "sedentary": -6, "light": -3}[lab] for lab in labels])
    data = (
        level[:, None, None, None]
        - 0.12 * freqs[None, None, :, None]
        + rng.normal(0, 1, size=(n, 3, freqs.size, frames.size))
    ).astype(np.float32)
    ds = xr.Dataset(
        {"spectrogram": (("window", "channel", "frequency", "frame"), data)},
        coords={
            "channel": np.array(["x", "y", "z"], dtype=STRING),
            "frequency": ("frequency", freqs, {"units": "Hz"}),
            "frame": ("frame", frames, {"units": "s"}),
            "participant": ("window", np.array([f"P00{i % 3 + 1}" for i in range(n)], STRING)),
            "window_start": ("window", pd.date_range("2024-01-01", periods=n, freq="30s")),
            "annotation": ("window", np.array([f"{lab};code" for lab in labels], STRING)),
            "label": ("window", labels.astype(STRING)),
        },
        attrs={
            "n_fft": 120,
            "hop_length": 50,
            "window": "hann",
            "sample_rate": 100,
            "window_length_s": 30,
            "label_scheme": "TestScheme",
        },
    )
    ds = ds.chunk({"window": 8})
    write_dataset(ds, tmp_path / "spectrograms.zarr")
    return xr.open_zarr(tmp_path / "spectrograms.zarr")


@pytest.fixture
def inputs():
    y_true = ["light", "light", "mvpa", "sedentary", "sedentary", "mvpa", "sedentary", "light"]
    y_pred = ["light", "sedentary", "mvpa", "sedentary", "light", "light", "sedentary", "light"]
    metrics = {
        "kappa": cohen_kappa_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=TEST_CLASSES, average="macro"),
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "classes": TEST_CLASSES,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=TEST_CLASSES).tolist(),
        "per_class": classification_report(y_true, y_pred, labels=TEST_CLASSES, output_dict=True),
        "per_participant_kappa": {"P001": 0.61, "P002": None, "P003": 0.35},
        "n_windows": len(y_true),
        "device": "cpu",
    }
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "train_loss": [1.2, 0.9, 0.7],
            "val_loss": [1.1, 0.95, 1.0],
            "val_kappa": [0.3, 0.45, 0.42],
            "val_macro_f1": [0.35, 0.5, 0.48],
            "seconds": [10.0, 9.5, 9.7],
            "windows_per_s": [400.0, 420.0, 410.0],
            "selected": [False, True, False],
        }
    )
    report = classification_report(y_true, y_pred, labels=TEST_CLASSES, zero_division=0)
    params = {"data": {"label_scheme": "TestScheme"}, "train": {"epochs": 3, "lr": 0.00123}}
    qc = pd.DataFrame(
        {
            "participant": ["P001", "P002"],
            "windows_kept": [812, 0],
            "error": ["", "P002.csv.gz: line 7: no timestamp (1 rows)"],
        }
    )
    return {
        "history": history,
        "best_epoch": 2,
        "metrics": metrics,
        "classification_report": report,
        "qc": qc,
        "params": params,
    }


def test_write_report_figures_and_html(tmp_path, spectrograms, inputs):
    html_path = tmp_path / "out" / "report.html"
    paths = write_report(html_path, tmp_path / "fig", spectrograms, **inputs, n_examples=4)

    assert sorted(paths) == sorted(FIGURE_NAMES)
    for name, path in paths.items():
        assert path == tmp_path / "fig" / f"{name}.png"
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300

    page = html_path.read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert sorted(base64.b64decode(e) for e in embedded) == sorted(
        p.read_bytes() for p in paths.values()
    )
    assert f"{inputs['metrics']['kappa']:.3f}" in page
    for cls in TEST_CLASSES:
        assert f"<td>{cls}, " in page or f", {cls}<" in page or f" {cls} " in page
    assert html.escape(inputs["classification_report"]) in page
    assert "lr: 0.00123" in page
    assert "<td>812</td>" in page and "P002.csv.gz: line 7: no timestamp (1 rows)" in page
    assert "http" not in page.replace("http-equiv", "")  # no external resources


def test_examples_are_seeded(tmp_path, spectrograms, inputs):
    def examples(seed, sub):
        paths = write_report(
            tmp_path / sub / "r.html",
            tmp_path / sub,
            spectrograms,
            **inputs,
            n_examples=3,
            seed=seed,
        )
        return paths["spectrogram_examples"]

    first, again, reseeded = examples(0, "a"), examples(0, "b"), examples(1, "c")
    assert first.read_bytes() == again.read_bytes()
    # The title names the seed, so compare only the grid below it.
    grids = [matplotlib.image.imread(path)[80:] for path in (first, reseeded)]
    assert not np.array_equal(*grids)


def test_pick_examples_per_class():
    labels = np.array(STORE_LABELS)
    picks = pick_examples(labels, CLASSES, 8, seed=0)
    assert list(picks) == CLASSES
    assert [picks[c].size for c in CLASSES] == [8, 0, 8, 2]
    for cls, idx in picks.items():
        assert np.all(labels[idx] == cls)
        assert np.array_equal(idx, np.unique(idx))  # sorted, no repeats
    assert not np.array_equal(picks["sedentary"], pick_examples(labels, CLASSES, 8, 1)["sedentary"])


def test_only_drawn_windows_are_loaded(tmp_path, spectrograms, inputs):
    loaded = []

    def record(block, block_info=None):
        if block_info is not None:
            loaded.append(block_info[0]["array-location"][0][0])
        return block

    # One window per chunk, so each computed chunk tells which window was read.
    lazy = spectrograms["spectrogram"].data.rechunk({0: 1})
    spy = lazy.map_blocks(record, meta=np.array((), dtype=np.float32))
    ds = spectrograms.assign(spectrogram=(spectrograms["spectrogram"].dims, spy))
    write_report(tmp_path / "r.html", tmp_path, ds, **inputs, n_examples=3, seed=5)

    picks = pick_examples(ds["label"].values, CLASSES, 3, seed=5)
    assert sorted(set(loaded)) == sorted(np.concatenate(list(picks.values())).tolist())
    assert len(set(loaded)) == 3 + 3 + 2


def test_build_reads_the_stage_files(tmp_path, spectrograms, inputs):
    history = tmp_path / "history.csv"
    inputs["history"].to_csv(history, index=False)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(inputs["metrics"]))
    text = tmp_path / "classification_report.txt"
    text.write_text(inputs["classification_report"])
    qc = tmp_path / "qc.csv"
    inputs["qc"].to_csv(qc, index=False)
    html_path = tmp_path / "report" / "report.html"

    build(
        tmp_path / "spectrograms.zarr",
        history,
        metrics,
        text,
        qc,
        html_path,
        params=inputs["params"],
        n_examples=2,
        seed=0,
    )

    assert sorted(p.name for p in html_path.parent.glob("*.png")) == sorted(
        f"{name}.png" for name in FIGURE_NAMES
    )
    page = html_path.read_text()
    assert "<th>Best epoch</th><td>2</td>" in page  # from the "selected" column
    assert "<td>P002</td>\n      <td>0</td>\n      <td>P002.csv.gz: line 7" in page
    assert html.escape(inputs["classification_report"]) in page
