"""The report page, built from a real zarr store and the stages' files in tmp_path."""

import base64
import html
import io
import json
import re
import shutil
from html.parser import HTMLParser

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_figures import spectrogram_store, store_dictionary

from spectrohar.cache.stores import open_store
from spectrohar.evaluation import compare as comparison
from spectrohar.evaluation import score
from spectrohar.prediction.predict import select_run
from spectrohar.report import pages as report
from spectrohar.report.figures import (
    DPI,
    plot_confusion_matrix,
    plot_participant_kappa,
    plot_spectrogram_examples,
    plot_training_curves,
)
from spectrohar.settings import Labels, Report

# Every model x smoothing compared, in the order of compare.models x compare.smoothing.
RUNS = [("cnn", "none"), ("cnn", "hmm"), ("forest", "none")]
DEVICES = ["cpu", "cuda", "cpu"]  # that predicted each run
RUN_KINDS = ["confusion_matrix", "participant_kappa"]
# The figures as the report rule declares them (name: kind, the caption's file name), and the
# order in which the page shows them: the comparison, each run's, the training curves, the
# example spectrograms.
KINDS = {
    "comparison": "comparison",
    "spectrogram_examples": "spectrogram_examples",
    "training_curves": "training_curves",
    **{f"{kind}_{model}_{smoothing}": kind for model, smoothing in RUNS for kind in RUN_KINDS},
}
FIGURES = list(KINDS)
ON_THE_PAGE = [
    "comparison",
    *(f"{kind}_{model}_{smoothing}" for model, smoothing in RUNS for kind in RUN_KINDS),
    "training_curves",
    "spectrogram_examples",
]
CAPTIONS = REPO / "workflow" / "report"
CONFIG = {
    "labels": {"scheme": "TestScheme"},
    "compare": {"models": ["cnn", "forest"], "resamples": 200, "confidence": 0.9, "seed": 0},
    "train": {"epochs": 3, "lr": 0.00123},
}

# The test participants, their metadata (the split table's columns) and their windows' labels.
# P103 is all sedentary, so where it is predicted so too its kappa and its groups' are undefined;
# "mvpa" has no window in the store, "sleep" none among the test windows: the examples figure
# has a row for each.
TEST = pd.DataFrame(
    {
        "participant": ["P101", "P102", "P103"],
        "set": "test",
        "sex": ["F", "F", "M"],
        "age": ["40-60", "18-40", "40-60"],
    }
)
TRUE = {
    "P101": ["light", "light", "mvpa", "sedentary", "sedentary", "mvpa", "sedentary", "light"],
    "P102": ["sedentary", "light", "light", "mvpa", "sedentary", "sedentary", "light", "mvpa"],
    "P103": ["sedentary"] * 8,
}
HISTORIES = {
    "cnn": pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "train_loss": [1.2, 0.9, 0.7],
            "val_loss": [1.1, 0.95, 1.0],
            "val_kappa": [0.3, 0.45, 0.42],
            "val_macro_f1": [0.35, 0.5, 0.48],
            "seconds": [10.0, 9.5, 9.7],
            "windows_per_s": [400.0, 420.0, 410.0],
            "selected": [False, True, False],  # epoch 2: the model kept
        }
    ),
    "forest": pd.DataFrame(
        {
            "min_samples_leaf": [1, 4, 16],
            "val_kappa": [0.51234, 0.55, 0.49],
            "val_macro_f1": [0.6, 0.61, 0.58],
            "selected": [False, True, False],
        }
    ),
}
QC = pd.DataFrame(
    {
        "participant": ["P001", "P002"],
        "windows_kept": [812, 0],
        "error": ["", "P002.csv.gz: line 7: no timestamp (1 rows)"],
    }
)


def predictions(run: int, wrong_rates=(0.25, 0.4, 0.15)) -> pd.DataFrame:
    """A run's test rows: TRUE, each window's prediction wrong with a chance of its own per run
    (drawn by seed); P103 all right in the first run."""
    rng = np.random.default_rng(run)
    table = pd.DataFrame(
        [(p, label) for p, labels in TRUE.items() for label in labels],
        columns=["participant", "label"],
    )
    wrong = rng.random(len(table)) < wrong_rates[run]
    table["predicted"] = np.where(
        wrong, rng.choice(["light", "mvpa", "sedentary"], len(table)), table.label
    )
    if run == 0:
        table.loc[table.participant == "P103", "predicted"] = "sedentary"
    return table


@pytest.fixture(scope="module")
def scores(tmp_path_factory) -> dict:
    """Each run's metrics and classification report, by run, as the score rule writes them
    from its test rows (the split table holding TEST's metadata)."""
    folder = tmp_path_factory.mktemp("scores")
    TEST.to_csv(folder / "split.csv", index=False)
    bootstrap = {name: CONFIG["compare"][name] for name in ("resamples", "confidence", "seed")}
    scored = {}
    for i, run in enumerate(RUNS):
        table = predictions(i).assign(set="test")
        table.attrs = {"model": run[0], "device": DEVICES[i]}
        paths = [folder / f"{i}.{suffix}" for suffix in ("parquet", "json", "txt")]
        table.to_parquet(paths[0], index=False)
        score.build(paths[0], folder / "split.csv", *paths[1:], **bootstrap)
        scored[run] = (json.loads(paths[1].read_text()), paths[2].read_text())
    return scored


def stage_files(tmp_path, scores) -> dict:
    """The report rule's inputs written to `tmp_path`, the captions those of workflow/report, by
    argument name."""
    runs, reports = {}, []
    for model, smoothing in RUNS:
        folder = tmp_path / model / smoothing
        folder.mkdir(parents=True)
        scored, text = scores[model, smoothing]
        (folder / "metrics.json").write_text(json.dumps(scored, indent=2))
        (folder / "classification_report.txt").write_text(text)
        runs[model, smoothing] = folder / "metrics.json"
        reports.append(folder / "classification_report.txt")
    # As the compare rule writes it.
    table = comparison.comparison_table(
        (model, smoothing, scores[model, smoothing][0]["intervals"]) for model, smoothing in RUNS
    )
    table.to_csv(tmp_path / "comparison.csv", index=False)
    histories = {}
    for model, history in HISTORIES.items():
        history.to_csv(tmp_path / model / "history.csv", index=False)
        histories[model] = tmp_path / model / "history.csv"
    QC.to_csv(tmp_path / "qc.csv", index=False)
    # The validation rows, the second run the best on them (the third is on the test rows), and
    # the run chosen on them as the select_model rule chooses it.
    validation = {}
    for i, (model, smoothing) in enumerate(RUNS):
        validation[f"{model}/{smoothing}"] = tmp_path / model / smoothing / "predictions.parquet"
        rows = predictions(i, wrong_rates=(0.3, 0.1, 0.35)).assign(set="validation")
        rows.to_parquet(validation[f"{model}/{smoothing}"], index=False)
    select_run(validation, tmp_path / "selected.json")
    return {
        "spectrograms": [spectrogram_store(tmp_path / "spectrograms.zarr")],
        "dictionary": store_dictionary(tmp_path / "dictionary.csv"),
        "comparison": tmp_path / "comparison.csv",
        "selected": tmp_path / "selected.json",
        "runs": runs,
        "classification_reports": reports,
        "histories": histories,
        "qc": tmp_path / "qc.csv",
        "captions": {name: CAPTIONS / f"{KINDS[name]}.rst" for name in FIGURES},
        "report": Report(examples_per_class=2, seed=0),
        "labels": Labels(scheme="TestScheme", dictionary=None, unknown="error"),
        "config": CONFIG,
    }


@pytest.fixture
def inputs(tmp_path, scores):
    """The report rule's inputs in tmp_path, for a test to change."""
    return stage_files(tmp_path, scores)


@pytest.fixture(scope="module")
def built(tmp_path_factory, scores):
    """The report rule's inputs, the folder of the figures of every declared figure built from
    them, and the page's text: shared by the tests that only read them."""
    folder = tmp_path_factory.mktemp("built")
    inputs = stage_files(folder, scores)
    return inputs, folder / "page", build(inputs, folder / "page")


def build(inputs, folder, figures=FIGURES) -> str:
    """Build the page with `figures` declared as folder/<name>.png; the page's text."""
    folder.mkdir(exist_ok=True)
    page = folder / "page.html"
    report.build(**inputs, page=page, figures={name: folder / f"{name}.png" for name in figures})
    return page.read_text()


class Page(HTMLParser):
    """A page's headings, paragraphs, captions and preformatted texts (tag, text), tables
    ("table", rows of cell texts, the header's first) and images ("img", alt) in page order;
    text on one line but a <pre>'s, entities decoded."""

    TEXT = {"title", "h1", "h2", "h3", "h4", "p", "pre", "figcaption"}

    def __init__(self, page):
        super().__init__()
        self.items, self._text = [], None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.items.append(("table", []))
        elif tag == "tr":
            self.items[-1][1].append([])
        elif tag == "img":
            self.items.append(("img", dict(attrs)["alt"]))
        if tag in self.TEXT or tag in ("td", "th"):
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.items[-1][1][-1].append("".join(self._text).strip())
            self._text = None
        elif tag in self.TEXT:
            text = "".join(self._text)
            self.items.append((tag, text if tag == "pre" else " ".join(text.split())))
            self._text = None

    def part(self, tag, text) -> list:
        """The items under the heading (tag, text), up to the next heading of its level or
        above."""
        levels = ["h1", "h2", "h3", "h4"]
        start = self.items.index((tag, text))
        for end in range(start + 1, len(self.items)):
            kind = self.items[end][0]
            if kind in levels and levels.index(kind) <= levels.index(tag):
                break
        else:
            end = len(self.items)
        return self.items[start + 1 : end]


def caption(path) -> str:
    """A caption file's text as the page shows it: on one line, escaped."""
    return html.escape(" ".join(path.read_text().split()))


def pixels(figure) -> np.ndarray:
    """A figure's pixels as the report saves it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=DPI)
    buffer.seek(0)
    return matplotlib.image.imread(buffer)


def cells(frame: pd.DataFrame, number="{:.3f}", missing="undefined") -> list[list[str]]:
    """A table's rows as the page shows them: the header, then its values, numbers formatted by
    `number`, integers and booleans as they are, None as `missing`."""

    def cell(value):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return missing
        if isinstance(value, bool | np.bool_ | int | np.integer | str):
            return str(value)
        return number.format(value)

    return [list(frame.columns), *([cell(v) for v in row] for row in frame.astype(object).values)]


def test_the_page_embeds_every_declared_figure_with_its_caption(built):
    _, folder, page = built

    embedded = re.findall(
        r'<img alt="(\w+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">'
        r"<figcaption>([^<]*)</figcaption>",
        page,
    )
    assert [name for name, _, _ in embedded] == ON_THE_PAGE
    for name, image, text in embedded:
        png = folder / f"{name}.png"
        assert base64.b64decode(image) == png.read_bytes()
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
        assert text == caption(CAPTIONS / f"{KINDS[name]}.rst")
    assert "http" not in page  # no external resources


def test_each_figure_is_drawn_from_its_own_run(built, scores):
    inputs, folder, _ = built
    drawn = {name: matplotlib.image.imread(folder / f"{name}.png") for name in FIGURES}
    for model, smoothing in RUNS:
        scored = scores[model, smoothing][0]
        for kind, plot in (
            ("confusion_matrix", plot_confusion_matrix),
            ("participant_kappa", plot_participant_kappa),
        ):
            np.testing.assert_array_equal(
                drawn[f"{kind}_{model}_{smoothing}"], pixels(plot(scored)), f"{kind} {model}"
            )
    # The cnn's curves, its kept epoch the one marked in the "selected" column.
    np.testing.assert_array_equal(
        drawn["training_curves"], pixels(plot_training_curves(HISTORIES["cnn"], 2))
    )
    # The examples: a row for each class of the store or of any run's test windows.
    ds = open_store(inputs["spectrograms"][0])
    label = [text.split(";")[0] for text in ds.annotation.values.tolist()]
    ds = ds.assign_coords(label=("window", label)).assign_attrs(label_scheme="TestScheme")
    classes = ["light", "mvpa", "sedentary", "sleep"]
    np.testing.assert_array_equal(
        drawn["spectrogram_examples"], pixels(plot_spectrogram_examples(ds, classes, 2, 0))
    )


def test_only_the_declared_figures_are_drawn(inputs, tmp_path):
    declared = ["participant_kappa_cnn_hmm", "comparison", "training_curves"]
    page = build(inputs, tmp_path / "three", declared)
    assert re.findall(r'<img alt="(\w+)"', page) == [
        "comparison",
        "participant_kappa_cnn_hmm",
        "training_curves",
    ]
    assert sorted(p.name for p in (tmp_path / "three").glob("*.png")) == [
        "comparison.png",
        "participant_kappa_cnn_hmm.png",
        "training_curves.png",
    ]


def test_a_comparison_without_the_cnn_has_no_training_curves(inputs, tmp_path, scores):
    # compare.models: [forest]: no cnn history, so the rule declares no training curves.
    forest = ("forest", "none")
    inputs["runs"] = {forest: inputs["runs"][forest]}
    inputs["classification_reports"] = inputs["classification_reports"][2:]
    inputs["histories"] = {"forest": inputs["histories"]["forest"]}
    comparison.comparison_table([(*forest, scores[forest][0]["intervals"])]).to_csv(
        inputs["comparison"], index=False
    )
    validation = inputs["runs"][forest].with_name("predictions.parquet")
    select_run({"forest/none": validation}, inputs["selected"])
    figures = ["comparison", "spectrogram_examples", *(f"{k}_forest_none" for k in RUN_KINDS)]
    page = Page(build(inputs, tmp_path / "forest", figures))
    assert [text for tag, text in page.items if tag == "img"] == [
        "comparison",
        "confusion_matrix_forest_none",
        "participant_kappa_forest_none",
        "spectrogram_examples",
    ]
    assert [text for tag, text in page.items if tag == "h3"] == ["forest + none", "forest"]


def test_a_caption_is_read_from_its_file(inputs, tmp_path):
    edited = tmp_path / "captions"
    shutil.copytree(CAPTIONS, edited)
    (edited / "confusion_matrix.rst").write_text("Counts of <test> windows,\nby true class.\n")
    inputs["captions"] = {name: edited / f"{KINDS[name]}.rst" for name in FIGURES}
    runs = [name for name in FIGURES if KINDS[name] in RUN_KINDS]  # the figures with them
    page = build(inputs, tmp_path / "page", runs)
    edited_caption = "<figcaption>Counts of &lt;test&gt; windows, by true class.</figcaption>"
    assert page.count(edited_caption) == len(RUNS)  # every run's confusion matrix
    assert caption(CAPTIONS / "confusion_matrix.rst") not in page
    assert page.count(caption(CAPTIONS / "participant_kappa.rst")) == len(RUNS)


def test_the_window_length_comes_from_the_store_and_the_scheme_from_the_settings(inputs, tmp_path):
    inputs["spectrograms"] = [spectrogram_store(tmp_path / "ten.zarr", window_length_s=10)]
    page = build(inputs, tmp_path / "page")
    assert "30 s" not in page
    assert f"(<code>{html.escape(str(inputs['qc']))}</code>)" in page
    assert Page(page).part("h2", "Data quality per participant")[0] == (
        "p",
        "Rows read, hours recorded and annotated, 10 s windows (starting every 10 s) kept (and "
        "of those unannotated) and dropped per reason, the device (for a device file) and the "
        "autocalibration (van Hees et al. 2014: error of the stationary 10 s windows from 1 g "
        "before and after in mg, offset, scale and temperature coefficient per axis, applied or "
        "why not), and windows per label under the scheme TestScheme, from the windowing stage "
        f"({inputs['qc']}).",
    )


def test_the_page_opens_with_the_comparison_and_its_intervals(built, scores):
    inputs, _, text = built
    page = Page(text)

    # The title names the run selected on the validation participants, not the test's best.
    kappas = {run: scored["kappa"] for run, (scored, _) in scores.items()}
    validation = json.loads(inputs["selected"].read_text())["validation_kappa"]
    chosen = max(RUNS, key=lambda run: validation["/".join(run)])
    assert chosen == ("cnn", "hmm") != max(RUNS, key=kappas.get)
    title = (
        f"spectrohar report: selected on validation: cnn + hmm (validation kappa "
        f"{validation['cnn/hmm']:.3f}); its test kappa {kappas[chosen]:.3f} on 24 test windows"
    )
    assert page.items[:2] == [("title", title), ("h1", title)]
    assert [text for tag, text in page.items if tag == "h2"] == [
        "Comparison",
        "Test scores per model and smoothing",
        "Training",
        "Spectrograms",
        "Data quality per participant",
        "Parameters",
        "Versions",
    ]
    opening = page.part("h2", "Comparison")
    assert opening[0] == (
        "p",
        "Every model x smoothing on the test participants, with 90% confidence intervals from a "
        f"bootstrap over the test participants ({inputs['comparison']}), beside its kappa on the "
        "validation participants, on which the run of the title is selected "
        f"({inputs['selected']}).",
    )
    assert opening[1][0] == "table" and opening[2] == ("img", "comparison")
    names = ["kappa", "macro_f1", "accuracy", "balanced_accuracy"]
    rows = [["model", "smoothing", "n_participants", "n_windows", "validation_kappa", *names]]
    for model, smoothing in RUNS:
        intervals = scores[model, smoothing][0]["intervals"]
        shown = [
            f"{m['estimate']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"
            for m in (intervals[name] for name in names)
        ]
        kappa = f"{validation[f'{model}/{smoothing}']:.3f}"
        rows.append([model, smoothing, "3", "24", kappa, *shown])
    assert opening[1][1] == rows
    # The intervals are a bootstrap's, not the estimate twice.
    assert all(
        s[0]["intervals"]["kappa"]["low"] < s[0]["intervals"]["kappa"]["high"]
        for s in scores.values()
    )


def test_each_run_shows_its_scores_groups_and_report(built, scores):
    page = Page(built[2])

    runs = page.part("h2", "Test scores per model and smoothing")
    assert [text for tag, text in runs if tag == "h3"] == [f"{m} + {s}" for m, s in RUNS]
    for model, smoothing in RUNS:
        scored, text = scores[model, smoothing]
        items = page.part("h3", f"{model} + {smoothing}")
        assert items[0] == (
            "table",
            [
                ["Test kappa", f"{scored['kappa']:.3f}"],
                ["Macro F1", f"{scored['macro_f1']:.3f}"],
                ["Accuracy", f"{scored['accuracy']:.3f}"],
                ["Balanced accuracy", f"{scored['balanced_accuracy']:.3f}"],
                ["Test windows", "24"],
                ["Test participants", "3"],
                ["Device", DEVICES[RUNS.index((model, smoothing))]],
                ["Classes", ", ".join(scored["classes"])],
            ],
        )
        assert [text for tag, text in items if tag == "img"] == [
            f"confusion_matrix_{model}_{smoothing}",
            f"participant_kappa_{model}_{smoothing}",
        ]
        # A table of test kappa per group of each metadata column, undefined where one class.
        for column in ("sex", "age"):
            table = items[items.index(("h4", f"Test kappa by {column}")) + 1]
            assert table == ("table", cells(pd.DataFrame(scored["groups"][column])))
        assert items[-1] == ("pre", text)  # its own classification report
    first = page.part("h3", "cnn + none")
    sex = first[first.index(("h4", "Test kappa by sex")) + 1][1]
    assert sex[2] == ["M", "1", "8", "undefined"]  # P103's sedentary windows, all right
    assert [text for tag, text in runs if tag == "pre"] == [scores[run][1] for run in RUNS]


def test_the_page_holds_the_stage_files(built):
    page = Page(built[2])

    training = page.part("h2", "Training")
    assert training[0] == ("img", "training_curves")
    for model, history in HISTORIES.items():
        shown = page.part("h3", model)
        assert shown == [("table", cells(history, number="{:.4g}"))]
    assert page.part("h3", "forest")[0][1][1] == ["1", "0.5123", "0.6", "False"]
    quality = page.part("h2", "Data quality per participant")
    assert quality[1] == (
        "table",
        [
            ["participant", "windows_kept", "error"],
            ["P001", "812", ""],
            ["P002", "0", "P002.csv.gz: line 7: no timestamp (1 rows)"],
        ],
    )
    assert page.part("h2", "Parameters") == [("pre", yaml.safe_dump(CONFIG, sort_keys=False))]
    assert "lr: 0.00123" in page.part("h2", "Parameters")[0][1]
