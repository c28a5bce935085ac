"""The pages, each one self-contained HTML file: the report rule's, embedding the run's figures,
each with its caption from workflow/report/*.rst, and the run's tables and parameters; and the
predict_page rule's, an index of a cohort's recordings linking a page per recording with its
timeline and daily totals."""

import base64
import html
import io
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import yaml

from spectrohar.cache.stores import open_spectrograms, reading
from spectrohar.evaluation.compare import METRICS
from spectrohar.evaluation.evaluate import table_classes
from spectrohar.prediction.cohort import DAY_KINDS, distribution
from spectrohar.prediction.predict import activity
from spectrohar.report.figures import (
    DPI,
    plot_cohort,
    plot_comparison,
    plot_confusion_matrix,
    plot_participant_kappa,
    plot_spectrogram_examples,
    plot_timelines,
    plot_training_curves,
)
from spectrohar.sources.labels import labelling

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}img{max-width:100%}pre{background:#f7f7f7;padding:1em;overflow-x:auto}
figure{margin:1.5em 0}figcaption{color:#555;font-size:90%}"""


def build(
    spectrograms,
    dictionary,
    comparison,
    selected,
    runs,
    classification_reports,
    histories,
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
    settings, then write `page` embedding them in that order, each captioned by its file in
    `captions` (name: path). Its title names the run `selected` on the validation participants
    (select_model's JSON), its test kappa beside it; the page opens with the `comparison`
    table, with each run's validation kappa; then each run's test
    scores (`runs`: (model, smoothing): metrics.json path, `classification_reports` in the same
    order), each model's training history (`histories`: model: path), example windows from the
    spectrogram stores `spectrograms` labelled under the `labels` settings with `dictionary`, the
    quality table `qc` and the run's `config`."""
    table = pd.read_csv(comparison)
    table.attrs["confidence"] = config["compare"]["confidence"]  # CSV keeps no attributes
    selection = json.loads(Path(selected).read_text())
    scores = {run: json.loads(Path(path).read_text()) for run, path in runs.items()}
    history = {model: pd.read_csv(path) for model, path in histories.items()}
    ds = open_spectrograms(spectrograms)
    label = labelling(dictionary, labels)(ds.annotation.values)
    known = np.flatnonzero([text is not None for text in label])
    ds = ds.isel(window=known).assign_coords(label=("window", label[known]))
    ds.attrs["label_scheme"] = labels.scheme
    # The metrics list the classes seen in the test set, the stores those of all participants.
    classes = sorted(
        set().union(*(s["classes"] for s in scores.values())) | set(ds["label"].values.tolist())
    )
    drawings = {
        "comparison": lambda: plot_comparison(table),
        "spectrogram_examples": lambda: plot_spectrogram_examples(
            ds, classes, report.examples_per_class, report.seed
        ),
        "training_curves": lambda: plot_training_curves(
            history["cnn"], _selected(history["cnn"]).epoch
        ),
    }
    for (model, smoothing), metrics in scores.items():
        drawings[f"confusion_matrix_{model}_{smoothing}"] = partial(plot_confusion_matrix, metrics)
        drawings[f"participant_kappa_{model}_{smoothing}"] = partial(
            plot_participant_kappa, metrics
        )
    with reading(*spectrograms):
        for name, path in figures.items():
            drawings[name]().savefig(path, dpi=DPI)

    esc = html.escape

    def figure(name) -> str:
        if name not in figures:
            return ""
        png = base64.b64encode(Path(figures[name]).read_bytes()).decode("ascii")
        # reStructuredText wraps its lines; the page's captions are one line each.
        text = " ".join(Path(captions[name]).read_text().split())
        return (
            f'<figure><img alt="{name}" src="data:image/png;base64,{png}">'
            f"<figcaption>{esc(text)}</figcaption></figure>"
        )

    sections = []
    for ((model, smoothing), metrics), text in zip(
        scores.items(), classification_reports, strict=True
    ):
        rows = "".join(
            f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _headline(metrics)
        )
        groups = "".join(
            f"<h4>Test kappa by {esc(column)}</h4>"
            + pd.DataFrame(members).to_html(
                index=False, na_rep="undefined", float_format="{:.3f}".format
            )
            for column, members in metrics["groups"].items()
        )
        sections.append(
            f"<h3>{esc(model)} + {esc(smoothing)}</h3><table>{rows}</table>"
            f"{figure(f'confusion_matrix_{model}_{smoothing}')}"
            f"{figure(f'participant_kappa_{model}_{smoothing}')}{groups}"
            f"<pre>{esc(Path(text).read_text())}</pre>"
        )
    histories_html = "".join(
        f"<h3>{esc(model)}</h3>{frame.to_html(index=False, float_format=lambda x: f'{x:.4g}')}"
        for model, frame in history.items()
    )
    quality = pd.read_csv(qc, keep_default_na=False)
    # The run chosen on the validation participants, as predict.model: best chooses it; its
    # test kappa is shown, not used to choose.
    chosen = table.loc[(table.model + "/" + table.smoothing) == selection["run"]].iloc[0]
    title = (
        f"spectrohar report: selected on validation: {chosen.model} + {chosen.smoothing} "
        f"(validation kappa {selection['validation_kappa'][selection['run']]:.3f}); its test "
        f"kappa {chosen.kappa:.3f} on {chosen.n_windows} test windows"
    )
    Path(page).write_text(
        f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title><style>{CSS}</style></head>
<body><h1>{esc(title)}</h1>
<h2>Comparison</h2>
<p>Every model x smoothing on the test participants, with {config["compare"]["confidence"]:.0%}
confidence intervals from a bootstrap over the test participants
(<code>{esc(str(comparison))}</code>), beside its kappa on the validation participants, on which
the run of the title is selected (<code>{esc(str(selected))}</code>).</p>
{_comparison_html(table, selection["validation_kappa"])}
{figure("comparison")}
<h2>Test scores per model and smoothing</h2>{"".join(sections)}
<h2>Training</h2>{figure("training_curves")}{histories_html}
<h2>Spectrograms</h2>{figure("spectrogram_examples")}
<h2>Data quality per participant</h2>
<p>Rows read, hours recorded and annotated, {ds.attrs["window_length_s"]:g} s windows (starting
every {ds.attrs["window_step_s"]:g} s) kept (and of those unannotated) and dropped per reason,
the device (for a device file) and the autocalibration (van Hees et al. 2014: error of the
stationary 10 s windows from 1 g before and after in mg, offset, scale and temperature
coefficient per axis, applied or why not), and windows per label under the scheme
{esc(labels.scheme)}, from the windowing stage (<code>{esc(str(qc))}</code>).</p>
{quality.to_html(index=False, na_rep="")}
<h2>Parameters</h2><pre>{esc(yaml.safe_dump(config, sort_keys=False))}</pre>
<h2>Versions</h2><p>Of the packages that made the spectrogram stores (none listed where the stores
differ):</p><pre>{esc(yaml.safe_dump(ds.attrs.get("versions", {})))}</pre>
</body></html>
""",
        encoding="utf-8",
    )


def _selected(history: pd.DataFrame):
    """The row of the history that train marked as the kept model."""
    return history[history.selected.astype(bool)].iloc[0]


def _comparison_html(table: pd.DataFrame, validation_kappa) -> str:
    """The comparison table, each metric as `estimate [low, high]`, after each run's
    `validation_kappa` ("model/smoothing": kappa)."""
    shown = table[["model", "smoothing", "n_participants", "n_windows"]].copy()
    runs = table.model + "/" + table.smoothing
    shown["validation_kappa"] = [f"{validation_kappa[run]:.3f}" for run in runs]
    for name in METRICS:
        shown[name] = [
            f"{e:.3f} [{lo:.3f}, {hi:.3f}]"
            for e, lo, hi in zip(
                table[name], table[f"{name}_low"], table[f"{name}_high"], strict=True
            )
        ]
    return shown.to_html(index=False)


def _headline(metrics) -> list[tuple[str, str]]:
    return [
        ("Test kappa", f"{metrics['kappa']:.3f}"),
        ("Macro F1", f"{metrics['macro_f1']:.3f}"),
        ("Accuracy", f"{metrics['accuracy']:.3f}"),
        ("Balanced accuracy", f"{metrics['balanced_accuracy']:.3f}"),
        ("Test windows", str(metrics["n_windows"])),
        ("Test participants", str(len(metrics["per_participant_kappa"]))),
        ("Device", str(metrics["device"])),
        ("Classes", ", ".join(metrics["classes"])),
    ]


def predictions_page(
    tables, summary, metrics, not_read, cohort, failures, page, pages, *, valid_day_hours, workers=1
) -> None:
    """The predict_page rule: `page`, the index of the recordings predicted, and in the folder
    `pages` a page per recording predicted (<name>.html: its device, calibration, timeline of
    each day, daily totals and cohort row), from the recordings' tables (name: parquet path),
    their `summary`, `metrics`, `not_read`, `cohort` and `failures` as
    prediction.predict.summarise wrote them, valid days being those with `valid_day_hours`
    worn and recorded. The index shows the cohort first (the distribution across recordings of
    hours worn and of each class's hours per valid day, and the recordings that failed), then a
    row per recording linking its page, then the files not read: no recording's timeline, so
    that it stays light at thousands of recordings. The recordings' pages are drawn by `workers`
    processes."""
    days = pd.read_csv(summary, dtype={"recording": str})
    recordings = pd.read_csv(cohort, dtype={"recording": str, "device_serial": str})
    scores = json.loads(Path(metrics).read_text())
    unread = pd.read_csv(not_read, dtype=str)
    failed = pd.read_csv(failures, dtype=str)
    Path(pages).mkdir(parents=True, exist_ok=True)
    daily = dict(tuple(days.groupby("recording", sort=False)))
    rows = recordings.set_index("recording", drop=False)
    index = Path(os.path.relpath(page, pages)).as_posix()
    unpredicted = set(failed.recording)
    linked = {name: Path(pages) / f"{name}.html" for name in tables if name not in unpredicted}
    drawn = [
        (tables[name], path, name, daily[name], rows.loc[name], scores.get(name), index)
        for name, path in linked.items()
    ]
    # Half a second or so a page, minutes at a thousand recordings: drawn side by side. Forked:
    # a spawned process would run the rule's script, its __main__, again. The tables are read in
    # the workers, so that no reader's threads (pyarrow's) are running when they fork.
    if workers > 1 and len(drawn) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            list(pool.map(_recording_page, *zip(*drawn, strict=True)))
    else:
        for arguments in drawn:
            _recording_page(*arguments)
    attrs, classes = None, []
    if linked:
        table = pd.read_parquet(tables[next(iter(linked))])
        attrs, classes = table.attrs, table_classes(table)
    title = f"spectrohar predictions: {len(tables)} recordings"
    esc = html.escape
    cohort_html = "<p>No recording could be predicted.</p>"
    if attrs is not None:
        figure = plot_cohort(recordings, classes)
        columns = ["hours_worn", "valid_days", "valid_weekdays", "valid_weekend_days"]
        columns += [f"hours_{cls}_{kind}" for cls in classes for kind in DAY_KINDS]
        spread = distribution(recordings, columns)
        cohort_html = (
            f"<p>{_model_html(attrs)} Each recording's hours worn and recorded, its valid days "
            f"(at least {valid_day_hours:g} h of the calendar day worn and recorded, first and "
            "last days too), and each class's mean hours per valid day, per valid weekday and "
            "per valid weekend day, across the recordings that have one "
            f"(<code>{esc(str(cohort))}</code>; per day: <code>{esc(str(summary))}</code>)."
            f"</p>{_png_html(figure, 'the cohort')}"
            f"{spread.to_html(index=False, float_format='{:.2f}'.format)}"
        )
    Path(page).write_text(
        f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title><style>{CSS}</style></head>
<body><h1>{esc(title)}</h1>
<h2>Cohort</h2>
{cohort_html}
<h2>Failures</h2>
<p>{len(failed)} of {len(tables)} recordings could not be predicted
(<code>{esc(str(failures))}</code>).</p>
{failed.to_html(index=False) if len(failed) else ""}
<h2>Recordings</h2>
<p>A row per recording, its name linking its page (its device, calibration, a timeline of each
day and the daily totals); every column of the cohort table is in
<code>{esc(str(cohort))}</code>. Calibration (van Hees et al. 2014): the error of stationary
10 s windows from 1 g before and after, in mg, and whether it was applied.</p>
{_recordings_html(recordings, classes, linked, Path(page).parent)}
<h2>Files not read</h2>
<p>{len(unread)} files beside the recordings, not read as recordings
(<code>{esc(str(not_read))}</code>).</p>
{unread.to_html(index=False) if len(unread) else ""}
</body></html>
""",
        encoding="utf-8",
    )


def _model_html(attrs) -> str:
    """What predicted the recordings, and how their time is counted."""
    rule = attrs["nonwear"]
    smoothing = " smoothed by its HMM" if attrs["smoothing"] == "hmm" else ""
    return (
        f"The model in <code>{html.escape(attrs['model'])}</code>{smoothing}, on every complete "
        f"{attrs['window_length_s']:g} s window, windows starting every "
        f"{attrs['window_step_s']:g} s, each standing for its step of time. Non-wear by van Hees "
        "et al. (2013) as GGIR applies it: an axis is still over "
        f"{rule['window_minutes']} minutes when its standard deviation is below "
        f"{rule['std_mg']:g} mg and its range below {rule['range_mg']:g} mg; a "
        f"{rule['step_minutes']}-minute block with {rule['axes_still']} still axes is non-wear, "
        "left out of the hours of each class."
    )


def _recordings_html(recordings, classes, linked, folder) -> str:
    """The index's table of recordings: the cohort table's leading columns, each name linking
    its page in `linked` (name: path; none for a recording that failed) from `folder`."""
    columns = [
        "recording",
        "file",
        "device_type",
        "device_serial",
        "start",
        "days_recorded",
        "valid_days",
        "valid_weekdays",
        "valid_weekend_days",
        "hours_worn",
        "hours_non_wear",
        *(f"hours_{cls}_per_day" for cls in classes),
        "calibration_error_before_mg",
        "calibration_error_after_mg",
        "calibration_applied",
        "failure",
    ]
    shown = recordings.reindex(columns=columns)
    text = shown.select_dtypes(exclude="number").columns
    shown[text] = shown[text].map(lambda value: "" if pd.isna(value) else html.escape(str(value)))
    shown["recording"] = [
        f'<a href="{quote(Path(os.path.relpath(linked[name], folder)).as_posix())}">'
        f"{html.escape(name)}</a>"
        if name in linked
        else html.escape(name)
        for name in recordings["recording"]
    ]
    return shown.to_html(index=False, escape=False, na_rep="", float_format="{:.2f}".format)


def _recording_page(table_path, path, name, days, row, scores, index) -> None:
    """A recording's own page at `path` from its table at `table_path`: what it is, its
    timeline, its daily totals and its row of the cohort table, linking back to the `index` (a
    path relative to it)."""
    table = pd.read_parquet(table_path)
    attrs = table.attrs
    esc = html.escape
    figure = plot_timelines(
        table.window_start,
        attrs["window_step_s"],
        activity(table),
        table.non_wear,
        table_classes(table),
        f"{name}: {attrs['recording']}",
    )
    kappa = (
        ""
        if scores is None
        else f"; against its annotations ({scores['n_windows']} labelled windows, scheme "
        f"{esc(attrs['label_scheme'])}): kappa {scores['kappa']:.3f}, macro F1 "
        f"{scores['macro_f1']:.3f}"
    )
    rate = f"recorded at {attrs['recorded_sample_rate']:.4g} Hz" + (
        f", resampled to the model's {attrs['sample_rate']:g} Hz" if attrs["resampled"] else ""
    )
    if "device_type" in attrs:
        rate = (
            f"{attrs['device_type']} {attrs['device_serial']} ({attrs['device_format']}, set to "
            f"{attrs['device_sample_rate_hz']:g} Hz and ±{attrs['device_range_g']:g} g), {rate}"
        )
    rate += f"; calibration {attrs['calibration_reason']}"
    totals = days.drop(columns="recording").to_html(index=False, float_format="{:.2f}".format)
    values = row.dropna().map(lambda value: f"{value:.4g}" if isinstance(value, float) else value)
    described = values.rename_axis("column").rename("value").reset_index()
    Path(path).write_text(
        f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(name)}</title><style>{CSS}</style></head>
<body><p><a href="{quote(index)}">All recordings</a></p><h1>{esc(name)}</h1>
<p><code>{esc(attrs["recording"])}</code>: {esc(rate, quote=False)}; {len(table)} windows,
{int(table.non_wear.sum())} of them non-wear, times {esc(attrs["time_zone"])}{kappa}.</p>
<p>{_model_html(attrs)}</p>
{_png_html(figure, f"timeline of {name}")}
<h2>Days</h2>{totals}
<h2>In the cohort table</h2>{described.to_html(index=False)}
</body></html>
""",
        encoding="utf-8",
    )


def _png_html(figure, alt) -> str:
    """`figure` as an image embedded in the page."""
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=DPI)
    image = base64.b64encode(png.getvalue()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{image}"></figure>'
