"""The report rule's page: one self-contained HTML file embedding the run's figures, each with
its caption from workflow/report/*.rst, and the run's tables and parameters."""

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from spectrohar.figures import (
    DPI,
    plot_confusion_matrix,
    plot_participant_kappa,
    plot_spectrogram_examples,
    plot_training_curves,
)
from spectrohar.labels import labelling
from spectrohar.stores import open_spectrograms, reading

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}img{max-width:100%}pre{background:#f7f7f7;padding:1em;overflow-x:auto}
figure{margin:1.5em 0}figcaption{color:#555;font-size:90%}"""


def build(
    spectrograms,
    dictionary,
    history,
    metrics,
    classification_report,
    qc,
    captions,
    page,
    figures,
    *,
    report,
    labels,
    config,
) -> None:
    """The report rule: draw each of `figures` (name: PNG path) to its path under the `report`
    settings, example windows from the spectrogram stores `spectrograms` labelled under the
    `labels` settings with `dictionary`, then write `page` embedding them in that order, each
    captioned by its file in `captions` (name: path), and the run's `config`."""
    table = pd.read_csv(history)
    # train.py marks the checkpoint's epoch in the history's "selected" column.
    best_epoch = int(table.epoch[table.selected.astype(bool)].iloc[0])
    scores = json.loads(Path(metrics).read_text())
    ds = open_spectrograms(spectrograms)
    label = labelling(dictionary, labels)(ds.annotation.values)
    known = np.flatnonzero([text is not None for text in label])
    ds = ds.isel(window=known).assign_coords(label=("window", label[known]))
    ds.attrs["label_scheme"] = labels.scheme
    # metrics lists the classes seen in the test set, the store those of all participants.
    classes = sorted(set(scores["classes"]) | set(ds["label"].values.tolist()))
    drawings = {
        "spectrogram_examples": lambda: plot_spectrogram_examples(
            ds, classes, report.examples_per_class, report.seed
        ),
        "training_curves": lambda: plot_training_curves(table, best_epoch),
        "confusion_matrix": lambda: plot_confusion_matrix(scores),
        "participant_kappa": lambda: plot_participant_kappa(scores),
    }
    with reading(*spectrograms):
        for name, path in figures.items():
            drawings[name]().savefig(path, dpi=DPI)

    esc = html.escape
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _headline(scores, best_epoch)
    )
    figs = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(Path(path).read_bytes()).decode("ascii")}">'
        # reStructuredText wraps its lines; the page's captions are one line each.
        f"<figcaption>{esc(' '.join(Path(captions[name]).read_text().split()))}</figcaption>"
        "</figure>"
        for name, path in figures.items()
    )
    quality = pd.read_csv(qc, keep_default_na=False)
    title = f"spectrohar report: {scores['n_windows']} test windows, kappa {scores['kappa']:.3f}"
    Path(page).write_text(
        f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title><style>{CSS}</style></head>
<body><h1>{esc(title)}</h1>
<h2>Headline</h2><table>{rows}</table>
<h2>Figures</h2>{figs}
<h2>Classification report</h2><pre>{esc(Path(classification_report).read_text())}</pre>
<h2>Data quality per participant</h2>
<p>Rows read, hours annotated, {ds.attrs["window_length_s"]:g} s windows kept and dropped per
reason, and windows per label under the scheme {esc(labels.scheme)}, from the
windowing stage (<code>{esc(str(qc))}</code>).</p>
{quality.to_html(index=False, na_rep="")}
<h2>Training history</h2>{table.to_html(index=False, float_format=lambda x: f"{x:.4g}")}
<h2>Parameters</h2><pre>{esc(yaml.safe_dump(config, sort_keys=False))}</pre>
<h2>Versions</h2><p>Of the packages that made the spectrogram stores (none listed where the stores
differ):</p><pre>{esc(yaml.safe_dump(ds.attrs.get("versions", {})))}</pre>
</body></html>
""",
        encoding="utf-8",
    )


def _headline(metrics, best_epoch: int) -> list[tuple[str, str]]:
    return [
        ("Test kappa", f"{metrics['kappa']:.3f}"),
        ("Macro F1", f"{metrics['macro_f1']:.3f}"),
        ("Accuracy", f"{metrics['accuracy']:.3f}"),
        ("Balanced accuracy", f"{metrics['balanced_accuracy']:.3f}"),
        ("Test windows", str(metrics["n_windows"])),
        ("Test participants", str(len(metrics["per_participant_kappa"]))),
        ("Device", str(metrics["device"])),
        ("Best epoch", str(best_epoch)),
        ("Classes", ", ".join(metrics["classes"])),
    ]
