"""The report page, built from a real zarr store and the stages' files in tmp_path."""

import base64
import html
import json
import re
import shutil

import matplotlib.image
import pandas as pd
import pytest
from conftest import REPO
from sklearn import metrics as skm
from test_figures import spectrogram_store, write_dictionary

from spectrohar import report
from spectrohar.settings import Labels, Report

# As the score step writes it, metrics lists only the test set's classes: "mvpa" has no window
# in the store, "sleep" none among the test windows; the examples figure has a row for each.
TEST_CLASSES = ["light", "mvpa", "sedentary"]
FIGURES = ["spectrogram_examples", "training_curves", "confusion_matrix", "participant_kappa"]
CAPTIONS = REPO / "workflow" / "report"
TRUE = ["light", "light", "mvpa", "sedentary", "sedentary", "mvpa", "sedentary", "light"]
PREDICTED = ["light", "sedentary", "mvpa", "sedentary", "light", "light", "sedentary", "light"]
CLASSIFICATION_REPORT = skm.classification_report(TRUE, PREDICTED, zero_division=0)
CONFIG = {"data": {"label_scheme": "TestScheme"}, "train": {"epochs": 3, "lr": 0.00123}}


@pytest.fixture
def inputs(tmp_path):
    """The report rule's inputs, the captions those of workflow/report, by argument name."""
    metrics = {
        "kappa": skm.cohen_kappa_score(TRUE, PREDICTED),
        "macro_f1": skm.f1_score(TRUE, PREDICTED, average="macro"),
        "accuracy": skm.accuracy_score(TRUE, PREDICTED),
        "balanced_accuracy": skm.balanced_accuracy_score(TRUE, PREDICTED),
        "classes": TEST_CLASSES,
        "confusion_matrix": skm.confusion_matrix(TRUE, PREDICTED, labels=TEST_CLASSES).tolist(),
        "per_class": skm.classification_report(TRUE, PREDICTED, output_dict=True),
        "per_participant_kappa": {"P001": 0.61, "P002": None, "P003": 0.35},
        "n_windows": len(TRUE),
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
    qc = pd.DataFrame(
        {
            "participant": ["P001", "P002"],
            "windows_kept": [812, 0],
            "error": ["", "P002.csv.gz: line 7: no timestamp (1 rows)"],
        }
    )
    paths = {
        name: tmp_path / name
        for name in ("history.csv", "metrics.json", "classification_report.txt", "qc.csv")
    }
    history.to_csv(paths["history.csv"], index=False)
    paths["metrics.json"].write_text(json.dumps(metrics))
    paths["classification_report.txt"].write_text(CLASSIFICATION_REPORT)
    qc.to_csv(paths["qc.csv"], index=False)
    return {
        "spectrograms": [spectrogram_store(tmp_path / "spectrograms.zarr")],
        "dictionary": write_dictionary(tmp_path / "dictionary.csv"),
        "history": paths["history.csv"],
        "metrics": paths["metrics.json"],
        "classification_report": paths["classification_report.txt"],
        "qc": paths["qc.csv"],
        "captions": {name: CAPTIONS / f"{name}.rst" for name in FIGURES},
        "report": Report(examples_per_class=2, seed=0),
        "labels": Labels(scheme="TestScheme", dictionary=None, unknown="error"),
        "config": CONFIG,
    }


def build(inputs, folder, figures=FIGURES) -> str:
    """Build the page with `figures` declared as folder/<name>.png; the page's text."""
    folder.mkdir(exist_ok=True)
    page = folder / "page.html"
    report.build(**inputs, page=page, figures={name: folder / f"{name}.png" for name in figures})
    return page.read_text()


def caption(path) -> str:
    """A caption file's text as the page shows it: on one line, escaped."""
    return html.escape(" ".join(path.read_text().split()))


def test_the_page_embeds_every_declared_figure_with_its_caption(inputs, tmp_path):
    page = build(inputs, tmp_path / "declared")

    embedded = re.findall(
        r'<img alt="(\w+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">'
        r"<figcaption>([^<]*)</figcaption>",
        page,
    )
    assert [name for name, _, _ in embedded] == FIGURES
    for name, image, text in embedded:
        png = tmp_path / "declared" / f"{name}.png"
        assert base64.b64decode(image) == png.read_bytes()
        pixels = matplotlib.image.imread(png)
        assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
        assert text == caption(CAPTIONS / f"{name}.rst")
    assert "http" not in page  # no external resources


def test_only_the_declared_figures_are_drawn(inputs, tmp_path):
    page = build(inputs, tmp_path / "two", ["confusion_matrix", "training_curves"])
    assert re.findall(r'<img alt="(\w+)"', page) == ["confusion_matrix", "training_curves"]
    assert sorted(p.name for p in (tmp_path / "two").glob("*.png")) == [
        "confusion_matrix.png",
        "training_curves.png",
    ]


def test_a_caption_is_read_from_its_file(inputs, tmp_path):
    edited = tmp_path / "captions"
    shutil.copytree(CAPTIONS, edited)
    (edited / "confusion_matrix.rst").write_text("Counts of <test> windows,\nby true class.\n")
    inputs["captions"] = {name: edited / f"{name}.rst" for name in FIGURES}
    page = build(inputs, tmp_path / "page")
    assert "<figcaption>Counts of &lt;test&gt; windows, by true class.</figcaption>" in page
    assert caption(CAPTIONS / "confusion_matrix.rst") not in page


def test_the_window_length_comes_from_the_store_and_the_scheme_from_the_settings(inputs, tmp_path):
    inputs["spectrograms"] = [spectrogram_store(tmp_path / "ten.zarr", window_length_s=10)]
    page = build(inputs, tmp_path / "page")
    assert "10 s windows kept" in page and "30 s" not in page
    assert "under the scheme TestScheme" in page
    assert f"(<code>{html.escape(str(inputs['qc']))}</code>)" in page


def test_the_page_holds_the_stage_files(inputs, tmp_path):
    page = build(inputs, tmp_path / "page")
    metrics = json.loads(inputs["metrics"].read_text())
    assert f"<th>Test kappa</th><td>{metrics['kappa']:.3f}</td>" in page
    assert "<th>Best epoch</th><td>2</td>" in page  # from the "selected" column
    assert "<th>Classes</th><td>light, mvpa, sedentary</td>" in page
    assert html.escape(CLASSIFICATION_REPORT) in page
    assert "lr: 0.00123" in page
    assert "<td>P002</td>\n      <td>0</td>\n      <td>P002.csv.gz: line 7" in page
