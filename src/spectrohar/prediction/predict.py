"""A trained model on new recordings: the `predict` rules of the workflow and `spectrohar
predict`, which share every function here, so that a recording gives the same table either way.

A recording is read and cut into windows as the windows stage does it (its checks and their
sentences included), with the window length, step and sample rate of the model, any other rate
resampled. Every complete window gets the model's predicted class and class probabilities,
computed from the windows as the model's stores were (STFT or features, with the settings in the
model file), the class the run's HMM smooths it to where the run has one, a non-wear flag
(prediction.nonwear) and, where the recording is annotated, its label under the scheme the model
was trained with. Per recording and calendar day, the hours of each class leave non-wear out
(prediction.daily).

With a time zone (predict.timezone, --timezone; an IANA name), times become instants: naive ones
are read on the zone's clock (an ambiguous time, in the hour a clock goes back, as its first
occurrence; a time the clock skips is refused), those with an offset by their offset. Windows
are cut on the instants, so a clock change is no gap, and `window_start` is on the zone's clock,
so that days are the zone's, 23 or 25 h long where its clocks change.
"""

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from spectrohar.cache.layout import UNANNOTATED
from spectrohar.cache.recording import Recording
from spectrohar.cache.windows import device_and_calibration, window_pieces
from spectrohar.errors import DataError
from spectrohar.evaluation.evaluate import probability_columns, table_classes
from spectrohar.evaluation.score import score
from spectrohar.models import Loaded, load_model
from spectrohar.models.hmm import HMM, contiguous_runs, load_hmm, smooth
from spectrohar.prediction.cohort import VALID_DAY_HOURS, failures_sentence, recording_summary
from spectrohar.prediction.daily import daily_summary
from spectrohar.prediction.nonwear import non_wear, window_statistics
from spectrohar.settings import Windows
from spectrohar.sources import checked_ids
from spectrohar.sources.annotations import annotation_table
from spectrohar.sources.csvfile import time_offset
from spectrohar.sources.labels import choose_dictionary, labelling
from spectrohar.sources.recordings import SUFFIXES, read_pieces, recording_id

log = logging.getLogger(__name__)

# The settings that the sentences of the predict path name, as the predict rules' config names
# them and as the command's options do: a unit's as a format of the unit.
RULE_SETTINGS = {
    "unit": "set predict.unit: {}",
    "timezone": "predict.timezone",
    "nonwear": "config nonwear.step_minutes",
}
COMMAND_OPTIONS = {
    "unit": "give --unit {}",
    "timezone": "--timezone",
    "nonwear": "the command's rule is config.yaml's nonwear section",
}


# The calibration's columns that come first in the cohort table, as the field's summaries give.
CALIBRATION = ("calibration_error_before_mg", "calibration_error_after_mg", "calibration_applied")
# The files summarise writes, in its order, as the predict_summary rule names them.
OUTPUTS = ("summary.csv", "metrics.json", "not_read.csv", "cohort.csv", "failures.csv")


@dataclasses.dataclass(frozen=True)
class Predictor:
    """A model to predict recordings with: the file it was read from, the model, the HMM that
    smooths its predictions (None: used unsmoothed) and the device it runs on."""

    model_file: str
    model: Loaded
    hmm: HMM | None
    device: str


def load_predictor(model_file, hmm_file=None, *, device="auto") -> Predictor:
    """The model saved at `model_file` (model.pt or model.skops) on `device` (train.device's
    choices), smoothed by the HMM the smooth rule saved at `hmm_file` if one is given."""
    # One thread: a forest sums its trees' probabilities in one order, so that the workflow and
    # the command give the same numbers whatever threads they have.
    model = load_model(model_file, device, threads=1)
    hmm = (
        None
        if hmm_file is None
        else load_hmm(
            hmm_file, model.classes, model.window_length_s, model.window_step_s, model_file
        )
    )
    return Predictor(str(model_file), model, hmm, model.device)


def recording_name(path) -> str:
    """A recording's name: its file's name without its format's suffix, checked as a source
    folder's ids are (the workflow's recordings are named so)."""
    name = recording_id(Path(path).name)
    if name is None:
        raise DataError(f"{path}: is no recording file (<name> and one of {', '.join(SUFFIXES)})")
    return checked_ids([name], path)[0]


def on_zone_clock(recording, pieces, timezone, setting) -> Iterator[Recording]:
    """The `pieces` (Recordings) of a recording with their times as instants read on the
    clock of `timezone` (zone_instants), the time zone named so."""
    rows = 0
    for piece in pieces:
        time = zone_instants(recording, piece.time, piece.time_zone, timezone, setting, rows)
        rows += len(time)
        yield dataclasses.replace(piece, time=time, time_zone=timezone)


def zone_instants(recording, time, time_zone, timezone, setting, rows=0) -> np.ndarray:
    """The instants (UTC, datetime64) of a recording's `time`, read with `time_zone`
    (the Recording's), its first `rows` rows after the file's first: naive times on the clock
    of the IANA zone `timezone`, an ambiguous one as its first occurrence; a time that clock
    skips is refused, naming `setting`."""
    offset = time_offset(time_zone)
    index = pd.DatetimeIndex(time)
    if offset is not None:
        return (index - offset).values
    local = index.tz_localize(timezone, ambiguous=np.ones(len(index), bool), nonexistent="NaT")
    skipped = np.flatnonzero(local.isna())
    if skipped.size:
        raise DataError(
            f"{recording}: line {rows + skipped[0] + 2}: {index[skipped[0]]} does not exist in "
            f"{timezone}, whose clocks skip it ({skipped.size} rows like it): the recording's "
            f"times are not on the clock of {setting}"
        )
    return local.tz_convert(None).values


def label_dictionary(labels, recording) -> str:
    """The dictionary that labels a recording's annotations, chosen as the workflow chooses a
    source's (labels.choose_dictionary), the recording's folder standing for the source's: the
    model's `labels.dictionary`, which must be here, where it was set."""
    path = choose_dictionary(labels.dictionary, Path(recording).parent)
    if labels.dictionary and not Path(path).is_file():
        raise DataError(
            f"{recording}: its annotations are labelled with the model's dictionary "
            f"{labels.dictionary}, which does not exist here"
        )
    return path


def predict_recording(
    recording, predictor: Predictor, *, unit, calibrate, max_gap_s, nonwear, timezone, settings
) -> pd.DataFrame:
    """One recording file's table: a row per complete window with its `window_start` (on the
    clock of `timezone`, an IANA name, where one is given), `label` (None where unannotated, or
    where the dictionary lacks the annotation), `predicted` class, `smoothed` class (with an HMM
    only), `non_wear` flag under the `nonwear` rule and each class's probability; a CSV's
    accelerations read in `unit`, a device file's steps over `max_gap_s` left as gaps, either
    calibrated as `calibrate` says (cache.windows.calibrates). An annotation table beside the
    recording annotates it where it names it. The attributes say what made it, the device and
    its calibration included. Sentences name the settings as `settings` does (RULE_SETTINGS or
    COMMAND_OPTIONS)."""
    model = predictor.model
    length_s, step_s = model.window_length_s, model.window_step_s
    if (nonwear.step_minutes * 60) % step_s:
        raise DataError(
            f"{predictor.model_file}: its windows every {step_s:g} s do not fill the non-wear "
            f"rule's {nonwear.step_minutes}-minute blocks evenly ({settings['nonwear']})"
        )
    windows = Windows(
        length_s=length_s,
        step_s=step_s,
        sample_rate=model.sample_rate,
        resample=True,
        unit=unit,
        max_gap_s=max_gap_s,
    )
    pieces = read_pieces(recording, annotation_table(Path(recording).parent), max_gap_s)
    if timezone is not None:
        pieces = on_zone_clock(recording, pieces, timezone, settings["timezone"])
    starts, annotations, probabilities, statistics = [], [], [], []
    step_samples = round(step_s * model.sample_rate)
    for ds in window_pieces(
        recording, pieces, windows, calibrate=calibrate, unit_hint=settings["unit"]
    ):
        attrs = ds.attrs  # the recording's, on every piece
        if not ds.sizes["window"]:
            continue
        acceleration = ds.acceleration.values
        starts.append(ds.window_start.values)
        annotations.append(ds.annotation.values)
        probabilities.append(model.predict_windows(acceleration))
        statistics.append(window_statistics(acceleration, step_samples))
    if not starts:
        raise DataError(
            f"{recording}: has no complete {length_s:g} s window of finite samples, the windows "
            f"that the model in {predictor.model_file} takes"
        )
    start = np.concatenate(starts)
    probabilities = np.concatenate(probabilities)
    non_finite = ~np.isfinite(probabilities).all(axis=1)
    if non_finite.any():  # argmax would quietly predict the first class
        raise DataError(
            f"{recording}: the model in {predictor.model_file} gives non-finite probabilities "
            f"for {non_finite.sum()} of {len(probabilities)} windows (the first at "
            f"{pd.Timestamp(start[non_finite][0])})"
        )
    annotation = np.concatenate(annotations).astype(object)
    label = np.full(len(annotation), None, dtype=object)
    if (annotation != UNANNOTATED).any():
        # An annotation the dictionary lacks leaves its window unlabelled (logged), not unread.
        labels = dataclasses.replace(model.labels, unknown="drop")
        label = labelling(label_dictionary(model.labels, recording), labels)(annotation)
    classes = np.asarray(model.classes, dtype=object)
    table = pd.DataFrame(
        {
            "window_start": start
            if timezone is None
            else pd.DatetimeIndex(start).tz_localize("UTC").tz_convert(timezone),
            "label": label,
            "predicted": classes[probabilities.argmax(axis=1)],
        }
    )
    if predictor.hmm is not None:
        runs = contiguous_runs(np.zeros(len(start)), start, step_s)
        table["smoothed"] = smooth(predictor.hmm, table.predicted, runs)
    table["non_wear"] = non_wear(xr.concat(statistics, "window"), start, step_s, nonwear)
    for column, values in probability_columns(classes, probabilities).items():
        table[column] = values
    table.attrs = {  # kept in the parquet file
        "recording": str(recording),
        "model": predictor.model_file,
        "smoothing": "none" if predictor.hmm is None else "hmm",
        "device": predictor.device,
        "window_length_s": length_s,
        "window_step_s": step_s,
        "sample_rate": model.sample_rate,
        "recorded_sample_rate": attrs["recorded_sample_rate"],
        "resampled": attrs["resampled"],
        "time_zone": attrs["time_zone"],
        "nonwear": dataclasses.asdict(nonwear),
        "label_scheme": model.labels.scheme,
        **device_and_calibration(attrs),
    }
    return table


def predict_or_fail(recording, predictor: Predictor, *, on_error, **settings) -> pd.DataFrame:
    """predict_recording's table of `recording`, or where it cannot be predicted and `on_error`
    is skip, an empty table whose attribute `error` says why (stop: the error is raised)."""
    try:
        return predict_recording(recording, predictor, **settings)
    except DataError as error:
        if on_error == "stop":
            raise
        log.error("%s; recording skipped (on_error: skip)", error)
        failed = pd.DataFrame({"window_start": pd.Series([], dtype="datetime64[ns]")})
        failed.attrs = {"recording": str(recording), "error": str(error)}
        return failed


def activity(table) -> pd.Series:
    """Each window's class in a recording's table: the smoothed one where there is one."""
    return table["smoothed" if "smoothed" in table else "predicted"]


def summarise(
    tables,
    summary,
    metrics,
    not_read_table,
    cohort,
    failures,
    *,
    not_read,
    valid_day_hours=VALID_DAY_HOURS,
) -> int:
    """From the recordings' tables (name: parquet path): `summary`, a CSV row per recording and
    calendar day (daily.daily_summary: hours of each class, non-wear, no data, and `complete`,
    at least `valid_day_hours` worn and recorded: a valid day); `metrics`, JSON of score.score
    of each annotated recording's labelled windows by name; `not_read_table`, a CSV row (file,
    reason) per file of `not_read` (path: reason), each logged as a warning; `cohort`, a CSV row
    per recording (recording_row); and `failures`, a CSV row (recording, file, reason) per
    recording that could not be predicted (predict_or_fail), their count logged and returned."""
    for path, reason in not_read.items():
        log.warning("%s: not read: %s", path, reason)
    not_read_frame = pd.DataFrame(not_read.items(), columns=["file", "reason"], dtype=str)
    not_read_frame.to_csv(not_read_table, index=False)
    days, scores, rows, failed = [], {}, [], []
    for name, path in tables.items():
        table = pd.read_parquet(path)
        if "error" in table.attrs:
            rows.append(recording_row(name, table, None))
            failed.append(
                {"recording": name, "file": rows[-1]["file"], "reason": rows[-1]["failure"]}
            )
            continue
        state = activity(table)
        days.append(
            daily_summary(
                table.window_start,
                table.attrs["window_step_s"],
                state,
                table.non_wear,
                table_classes(table),
                name,
                min_wear_hours=valid_day_hours,
            )
        )
        rows.append(recording_row(name, table, days[-1]))
        labelled = table.label.notna()
        if labelled.any():
            scores[name] = score(
                table[labelled].assign(participant=name, predicted=state[labelled])
            )
    pd.concat([pd.DataFrame(columns=["recording"]), *days], ignore_index=True).to_csv(
        summary, index=False
    )
    Path(metrics).write_text(json.dumps(scores, indent=2))
    pd.DataFrame(rows).to_csv(cohort, index=False)
    pd.DataFrame(failed, columns=["recording", "file", "reason"]).to_csv(failures, index=False)
    if failed:
        log.warning("%s", failures_sentence(len(failed), len(tables), failures))
    return len(failed)


def recording_row(name, table, days) -> dict:
    """A recording's row of the cohort table: its file; `failure`, empty, or why it could not be
    predicted (and nothing more); its device's type and serial (empty for a CSV recording); the
    `start` of its first window; the summary of its `days`, its rows of the daily summary
    (cohort.recording_summary: days recorded, valid days, hours worn, each class's mean hours
    per valid day); its calibration's error before and after and whether it was applied; its
    windows (non-wear among them), sample rates and clock; then the rest of its device and
    calibration (cache.windows.device_and_calibration)."""
    attrs = table.attrs
    if "error" in attrs:
        return {"recording": name, "file": attrs["recording"], "failure": attrs["error"]}
    device = device_and_calibration(attrs)
    row = {
        "recording": name,
        "file": attrs["recording"],
        "failure": "",
        "device_type": device.get("device_type", ""),
        "device_serial": device.get("device_serial", ""),
        "start": table.window_start.iloc[0],
        **recording_summary(days, table_classes(table)),
        **{key: device[key] for key in CALIBRATION},
        "windows": len(table),
        "non_wear_windows": int(table.non_wear.sum()),
        "recorded_sample_rate": attrs["recorded_sample_rate"],
        "resampled": attrs["resampled"],
        "time_zone": attrs["time_zone"],
    }
    return row | device  # the columns above keep their places


def predict_files(
    recordings,
    output,
    *,
    model_file,
    hmm_file,
    unit,
    calibrate,
    max_gap_s,
    nonwear,
    timezone,
    device,
    on_error,
) -> tuple[dict, int]:
    """`spectrohar predict`: each of the `recordings` files -> `output`/<name>.parquet (a
    recording that fails skipped or stopped at, as `on_error` says), then the OUTPUTS there
    (summarise; every file named is read), as the workflow's rules; the tables by name and the
    count of recordings that failed."""
    names = {}
    for recording in recordings:
        name = recording_name(recording)
        if name in names:
            raise DataError(
                f"{names[name]} and {recording} are both named {name!r}: their tables would "
                f"both be {Path(output) / name}.parquet"
            )
        names[name] = recording
    predictor = load_predictor(model_file, hmm_file, device=device)
    Path(output).mkdir(parents=True, exist_ok=True)
    tables = {name: Path(output) / f"{name}.parquet" for name in names}
    for name, recording in tqdm(names.items(), desc="recordings", unit="recording"):
        table = predict_or_fail(
            recording,
            predictor,
            on_error=on_error,
            unit=unit,
            calibrate=calibrate,
            max_gap_s=max_gap_s,
            nonwear=nonwear,
            timezone=timezone,
            settings=COMMAND_OPTIONS,
        )
        table.to_parquet(tables[name], index=False)
    failed = summarise(tables, *(Path(output) / name for name in OUTPUTS), not_read={})
    return tables, failed


def build(
    recording,
    table,
    *,
    model_file,
    hmm_file,
    unit,
    calibrate,
    max_gap_s,
    timezone,
    nonwear,
    device,
    on_error,
) -> None:
    """The predict_recording rule: one recording's table, with the model in `model_file` (and
    the HMM in `hmm_file`, None: unsmoothed) on `device` (train.device's choices), a CSV's
    accelerations in `unit`, calibrated as `calibrate` says, a device file's steps over
    `max_gap_s` left as gaps, times on the clock of `timezone` (None: as read), non-wear by the
    `nonwear` rule; a recording that cannot be predicted skipped or stopped at, as `on_error`
    says (predict_or_fail)."""
    predictor = load_predictor(model_file, hmm_file, device=device)
    predict_or_fail(
        recording,
        predictor,
        on_error=on_error,
        unit=unit,
        calibrate=calibrate,
        max_gap_s=max_gap_s,
        nonwear=nonwear,
        timezone=timezone,
        settings=RULE_SETTINGS,
    ).to_parquet(table, index=False)


def select_run(runs, selected) -> None:
    """The select_model rule: of `runs` ("model/smoothing": its predictions table), the one with
    the best kappa on the validation participants (the first of equals), written to `selected`
    as JSON with each run's validation kappa."""
    kappa = {}
    for run, path in runs.items():
        table = pd.read_parquet(path)
        kappa[run] = float(score(table[table.set == "validation"])["kappa"])
    best = max(kappa, key=kappa.get)
    log.info("validation kappa per run: %s; selected %s", kappa, best)
    Path(selected).write_text(json.dumps({"run": best, "validation_kappa": kappa}, indent=2))
