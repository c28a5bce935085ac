"""The run's figures, drawn from the stores and the stages' tables as matplotlib Figures."""

import math
import textwrap

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay

from spectrohar.prediction.daily import NON_WEAR, day_runs, recording_days

# The object-oriented Figure API keeps no pyplot state, so nothing needs closing and the
# Agg canvas is used for PNG output whatever backend the process has selected.
DPI = 100


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


def plot_comparison(table) -> Figure:
    """Each metric's estimate (marker) and interval (bar) of a comparison table
    (comparison.comparison_table): a panel per metric, a row per model and smoothing, top down."""
    titles = {
        "kappa": "Cohen's kappa",
        "macro_f1": "macro F1",
        "accuracy": "accuracy",
        "balanced_accuracy": "balanced accuracy",
    }
    rows = [
        f"{r.model} + {r.smoothing}\n{r.n_participants} participants, {r.n_windows:,} windows"
        for r in table.itertuples()
    ]
    y = np.arange(len(table))
    size = (2.6 * len(titles) + 2.2, 0.55 * len(table) + 1.6)
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(titles), sharey=True)
    for ax, (name, title) in zip(axes, titles.items(), strict=True):
        # Bars and markers apart, not ax.errorbar: a percentile interval need not contain the
        # estimate, and errorbar refuses the negative length that would give.
        ax.hlines(y, table[f"{name}_low"], table[f"{name}_high"], color="C0", lw=2)
        ax.plot(table[name], y, "o", color="C3", ms=6, ls="none")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, rows, fontsize=8)
    axes[0].set_ylim(len(table) - 0.5, -0.5)  # shared: the first row on top in every panel
    confidence = table.attrs.get("confidence")
    interval = f"{confidence:.0%} percentile" if confidence else "percentile"
    fig.suptitle(f"Estimates with {interval} bootstrap intervals over participants", fontsize=10)
    return fig


def plot_timelines(window_start, window_step_s, predicted, non_wear, classes, title) -> Figure:
    """A row per calendar day over 0-24 h: each run of windows (daily.day_runs) a band in its
    predicted class's colour, non-wear grey and hatched, time without data left blank."""

    runs = day_runs(window_start, window_step_s, predicted, non_wear, classes)
    days = recording_days(runs)[:-1]
    # tab20's strong shades, then its pale ones, without its greys (non-wear's colour).
    tab20 = colormaps["tab20"].colors
    palette = [tab20[i] for i in (*range(0, 20, 2), *range(1, 20, 2)) if i not in (14, 15)]
    style = {cls: {"facecolor": palette[i % len(palette)]} for i, cls in enumerate(classes)}
    style[NON_WEAR] = {"facecolor": "0.85", "edgecolor": "0.45", "hatch": "////", "linewidth": 0}
    hour = np.timedelta64(1, "h")
    # On the wall clock: a band after a clock change starts at the hour the clock shows.
    wall = {column: runs[column].dt.tz_localize(None) for column in ("date", "start", "end")}
    bands = runs.assign(
        row=days.get_indexer(runs["date"]),
        x=(wall["start"] - wall["date"].dt.normalize()).values / hour,
        width=(wall["end"] - wall["start"]).values / hour,
    )
    fig = Figure(figsize=(10, 0.35 * len(days) + 1.8), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    # One collection of merged runs per day and state, so a week of 30 s windows draws fast.
    for (row, state), band in bands.groupby(["row", "state"], observed=True):
        xranges = list(zip(band["x"], band["width"], strict=True))
        ax.broken_barh(xranges, (row - 0.4, 0.8), label=state, **style[state])
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    ax.set_xlabel("time of day")
    ax.set_ylim(len(days) - 0.5, -0.5)  # the first day on top
    labels = days.strftime("%a %Y-%m-%d")
    ax.set_yticks(range(len(days)), labels, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    handles = [Patch(label=state, **style[state]) for state in [*classes, NON_WEAR]]
    handles.append(Patch(facecolor="white", edgecolor="0.45", linewidth=0.5, label="no data"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 7), fontsize=8)
    return fig


def plot_cohort(cohort, classes) -> Figure:
    """The cohort's recordings at a glance: a histogram of their hours worn and recorded, and
    box plots across them of each class's mean hours per valid day (prediction.cohort's
    columns; recordings without a value left out)."""
    fig = Figure(figsize=(10, 3), dpi=DPI, layout="constrained")
    worn, per_day = fig.subplots(1, 2, width_ratios=[2, 3])
    hours = cohort["hours_worn"].dropna()
    worn.hist(hours, bins=min(30, max(len(hours), 1)), color="0.45")
    worn.set_xlabel("hours worn and recorded")
    worn.set_ylabel("recordings")
    worn.yaxis.set_major_locator(MaxNLocator(integer=True))
    values = [cohort[f"hours_{cls}_per_day"].dropna() for cls in classes]
    per_day.boxplot(values, flierprops={"markersize": 3})
    per_day.set_xticks(range(1, len(classes) + 1), classes)
    per_day.set_ylabel("mean hours per valid day")
    per_day.grid(axis="y", alpha=0.3)
    return fig
