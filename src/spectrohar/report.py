"""HTML report of a run: four PNG figures plus one self-contained page embedding them."""

from __future__ import annotations

import base64
import html
import json
import math
import pathlib
import textwrap

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay

from spectrohar.stores import open_store, reading

# The object-oriented Figure API keeps no pyplot state, so nothing needs closing and the
# Agg canvas is used for PNG output whatever backend the process has selected.
DPI = 100
FIGURES = ("spectrogram_examples", "training_curves", "confusion_matrix", "participant_kappa")
CAPTIONS = {
    "spectrogram_examples": "Randomly drawn example windows per class (rows): log-magnitude "
    "spectrograms with the channels stacked vertically, on one shared colour scale.",
    "training_curves": "Loss (left axis) and validation kappa / macro F1 (right axis) per epoch; "
    "the dotted line marks the best epoch, whose checkpoint was evaluated.",
    "confusion_matrix": "Test confusion matrix, colour = fraction of each true class "
    "(recall), numbers = window counts.",
    "participant_kappa": "Cohen's kappa per test participant; the line is the overall kappa.",
}


def pick_examples(labels, classes, n_examples: int, seed: int) -> dict[str, np.ndarray]:
    """Sorted window indices drawn without replacement per class, classes in the given order."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).astype(object)  # the stores hold StringDType; no .astype(str)
    picks = {}
    for cls in classes:
        idx = np.flatnonzero(labels == cls)
        picks[cls] = np.sort(rng.choice(idx, size=min(n_examples, idx.size), replace=False))
    return picks


def plot_spectrogram_examples(spectrograms, classes, n_examples: int, seed: int) -> Figure:
    """Grid of example spectrograms: one row per class, channels stacked top to bottom."""
    picks = pick_examples(spectrograms["label"].values, classes, n_examples, seed)
    wanted = np.unique(np.concatenate([np.zeros(0, int), *picks.values()]))
    # Only the drawn windows are read from the (dask-backed) store, in one sorted selection.
    data = spectrograms["spectrogram"].isel(window=wanted).values
    row_of = {w: i for i, w in enumerate(wanted.tolist())}
    channels = [str(c) for c in spectrograms["channel"].values]
    freqs, frames = spectrograms["frequency"].values, spectrograms["frame"].values
    n_freq, n_ch = freqs.size, len(channels)
    finite = data[np.isfinite(data)]
    # Percentiles rather than min/max so a few extreme bins don't wash out the colours.
    vmin, vmax = np.percentile(finite, [1, 99]) if finite.size else (None, None)
    style = dict(origin="lower", aspect="auto", cmap="magma", interpolation="nearest", vmin=vmin)
    style.update(vmax=vmax, extent=(frames[0], frames[-1], -0.5, n_ch * n_freq - 0.5))
    ncols = max(n_examples, 1)
    size = (1.3 * ncols + 1.6, 1.5 * len(classes) + 1.2)
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(len(classes), ncols, squeeze=False)
    image = None
    for r, cls in enumerate(classes):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= picks[cls].size:
                ax.set_frame_on(False)  # not set_axis_off: column 0 keeps its row label
                continue
            # origin="lower" puts array row 0 at the bottom, so reverse to get x on top.
            image = ax.imshow(np.concatenate(data[row_of[picks[cls][c]]][::-1]), **style)
            for k in range(1, n_ch):
                ax.axhline(k * n_freq - 0.5, color="white", lw=0.6)
            # Time hint under the lowest drawn cell of each column (late classes may be short).
            if all(picks[k].size <= c for k in classes[r + 1 :]):
                ax.set_xticks(frames[[0, -1]], [f"{frames[0]:g}", f"{frames[-1]:g} s"], fontsize=6)
        first = axes[r, 0]
        first.set_ylabel(cls, fontsize=9, fontweight="bold")
        if picks[cls].size:
            ticks = [(n_ch - k - 0.5) * n_freq - 0.5 for k in range(n_ch)]
            first.set_yticks(ticks, [f"{ch} 0–{freqs[-1]:g} Hz" for ch in channels], fontsize=6)
        else:
            note = first.text(0, 0.5, "no windows of this class", transform=first.transAxes)
            note.set_in_layout(False)  # else the layout widens column 0 to fit the note
    a = spectrograms.attrs
    fig.suptitle(
        f"{n_examples} random windows per class (seed {seed}), channels {', '.join(channels)} "
        f"stacked top to bottom, scheme {a.get('label_scheme', '?')}\nSTFT n_fft={a.get('n_fft')}, "
        f"hop={a.get('hop_length')}, window={a.get('window')}, {a.get('sample_rate')} Hz, "
        f"{a.get('window_length_s')} s windows",
        fontsize=9,
    )
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="log magnitude")
    return fig


def plot_training_curves(history, best_epoch: int) -> Figure:
    """Losses on the left axis, validation kappa and macro F1 on the right."""
    fig = Figure(figsize=(7, 4.5), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    ep = history["epoch"]
    lines = ax.plot(ep, history["train_loss"], "o-", ms=3, label="train loss")
    lines += ax.plot(ep, history["val_loss"], "o-", ms=3, label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    right = ax.twinx()
    lines += right.plot(ep, history["val_kappa"], "s--", ms=3, color="C2", label="val kappa")
    lines += right.plot(ep, history["val_macro_f1"], "s--", ms=3, color="C3", label="val macro F1")
    right.set_ylabel("kappa / macro F1")
    lines.append(ax.axvline(best_epoch, color="grey", ls=":", label=f"best epoch ({best_epoch})"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # Below the axes, so it never hides a curve.
    ax.legend(handles=lines, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    ax.set_title("Training curves")
    return fig


def plot_confusion_matrix(metrics) -> Figure:
    """Row-normalised confusion matrix coloured by recall, annotated with counts."""
    counts = np.asarray(metrics["confusion_matrix"], dtype=int)
    totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(metrics["classes"])
    fig = Figure(figsize=(3 + 0.7 * n, 2.4 + 0.6 * n), dpi=DPI)
    ax = fig.subplots()
    disp = ConfusionMatrixDisplay(recall, display_labels=metrics["classes"])
    # Colour by recall but print counts, so sklearn's own cell text is switched off.
    disp.plot(
        ax=ax, include_values=False, cmap="Blues", xticks_rotation=45, im_kw={"vmin": 0, "vmax": 1}
    )
    for (i, j), value in np.ndenumerate(counts):
        colour = "white" if recall[i, j] > 0.5 else "black"
        ax.text(j, i, str(value), ha="center", va="center", fontsize=8, color=colour)
    ax.set_title(
        "Test confusion matrix\n(colour: recall per true class, text: counts)", fontsize=10
    )
    fig.tight_layout()
    return fig


def plot_participant_kappa(metrics) -> Figure:
    """Sorted bar chart of per-participant kappa; undefined ones are named in the title."""
    kappas = metrics["per_participant_kappa"]
    defined = sorted((k, p) for p, k in kappas.items() if k is not None and not math.isnan(k))
    undefined = sorted(p for p, k in kappas.items() if k is None or math.isnan(k))
    fig = Figure(figsize=(max(6, 0.3 * len(defined) + 2), 4), dpi=DPI)
    ax = fig.subplots()
    ax.bar([p for _, p in defined], [k for k, _ in defined], color="C0")
    ax.axhline(metrics["kappa"], color="C3", ls="--", label=f"overall {metrics['kappa']:.3f}")
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.set_ylabel("Cohen's kappa")
    ax.legend(fontsize=8)
    title = "Kappa per test participant"
    if undefined:
        title += "\n" + textwrap.fill(f"undefined (not drawn): {', '.join(undefined)}", 110)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


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


CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}img{max-width:100%}pre{background:#f7f7f7;padding:1em;overflow-x:auto}
figure{margin:1.5em 0}figcaption{color:#555;font-size:90%}"""


def write_report(
    html_path,
    figure_dir,
    spectrograms,
    history,
    best_epoch,
    metrics,
    classification_report,
    qc,
    params,
    n_examples=8,
    seed=0,
) -> dict[str, pathlib.Path]:
    """Write PNG figures into figure_dir and one self-contained HTML page (figures embedded as
    base64 PNG) to html_path. Return {figure name: png path}."""
    figure_dir = pathlib.Path(figure_dir)
    figure_dir.mkdir(parents=True, exist_ok=True)
    # metrics lists the classes seen in the test set, the store those of all participants.
    classes = sorted(set(metrics["classes"]) | set(spectrograms["label"].values.tolist()))
    figures = {
        "spectrogram_examples": plot_spectrogram_examples(spectrograms, classes, n_examples, seed),
        "training_curves": plot_training_curves(history, best_epoch),
        "confusion_matrix": plot_confusion_matrix(metrics),
        "participant_kappa": plot_participant_kappa(metrics),
    }
    paths = {}
    for name in FIGURES:
        paths[name] = figure_dir / f"{name}.png"
        figures[name].savefig(paths[name], dpi=DPI)

    esc = html.escape
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _headline(metrics, best_epoch)
    )
    figs = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(paths[name].read_bytes()).decode("ascii")}">'
        f"<figcaption>{esc(CAPTIONS[name])}</figcaption></figure>"
        for name in FIGURES
    )
    title = f"spectrohar report: {metrics['n_windows']} test windows, kappa {metrics['kappa']:.3f}"
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title><style>{CSS}</style></head>
<body><h1>{esc(title)}</h1>
<h2>Headline</h2><table>{rows}</table>
<h2>Figures</h2>{figs}
<h2>Classification report</h2><pre>{esc(classification_report)}</pre>
<h2>Data quality per participant</h2>
<p>Rows read, hours annotated, 30 s windows kept and dropped per reason, and windows per label
under the scheme, from the windowing stage (<code>results/qc.csv</code>).</p>
{qc.to_html(index=False, na_rep="")}
<h2>Training history</h2>{history.to_html(index=False, float_format=lambda x: f"{x:.4g}")}
<h2>Parameters</h2><pre>{esc(yaml.safe_dump(params, sort_keys=False))}</pre>
</body></html>
"""
    html_path = pathlib.Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(page, encoding="utf-8")
    return paths


def build(
    spectrograms, history, metrics, classification_report, qc, html, *, params, n_examples, seed
):
    """The report rule: read the stages' files and write the page with its figures beside it."""
    table = pd.read_csv(history)
    # train.py marks the checkpoint's epoch in the history's "selected" column.
    best_epoch = int(table.epoch[table.selected.astype(bool)].iloc[0])
    scores = json.loads(pathlib.Path(metrics).read_text())
    text = pathlib.Path(classification_report).read_text()
    ds = open_store(spectrograms)
    html = pathlib.Path(html)
    quality = pd.read_csv(qc, keep_default_na=False)
    with reading(spectrograms):
        write_report(
            html,
            html.parent,
            ds,
            table,
            best_epoch,
            scores,
            text,
            quality,
            params,
            n_examples,
            seed,
        )


def plot_window(spectrograms, index: int) -> Figure:
    """One window's spectrogram, a panel per channel, in Hz and seconds from the window start."""
    window = spectrograms.isel(window=index).compute()
    channels = [str(c) for c in spectrograms["channel"].values]
    fig = Figure(figsize=(3.2 * len(channels) + 1, 3.4), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(channels), squeeze=False)[0]
    values = window["spectrogram"].values
    for ax, channel, image in zip(axes, channels, values, strict=True):
        mesh = ax.pcolormesh(
            window["frame"].values,
            window["frequency"].values,
            image,
            shading="nearest",
            cmap="magma",
            vmin=values.min(),
            vmax=values.max(),
        )
        ax.set_title(channel)
        ax.set_xlabel("time from window start (s)")
    axes[0].set_ylabel("frequency (Hz)")
    fig.colorbar(mesh, ax=axes, label="log magnitude")
    label = f", {window['label'].item()}" if "label" in window.coords else ""
    fig.suptitle(
        f"window {index}: {window['participant'].item()} from "
        f"{np.datetime_as_string(window['window_start'].values, unit='s')}{label}",
        fontsize=10,
    )
    return fig
