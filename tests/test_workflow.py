"""The real workflow, run by Snakemake on a small synthetic dataset in a temporary folder."""

import gzip
import html
import json
import os
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from conftest import REPO, SNAKEMAKE, snakemake, workflow_folder

from spectrohar import open_spectrograms
from spectrohar.sources.synthetic import participant_ids

PARTICIPANTS = participant_ids(8)
TEST = [p for p in PARTICIPANTS if p >= "P101"]
RUNS = ["cnn/none", "cnn/hmm", "forest/none", "forest/hmm"]  # every model x smoothing
# What follows the models: their evaluation, smoothing, scores, comparison, the run selected on
# the validation participants (the report's title) and the report.
AFTER_TRAINING = {"evaluate", "smooth", "score", "compare", "select_model", "report", "all"}


pytestmark = pytest.mark.slow  # every test here runs Snakemake


# A job's first line in a dry run: its rule's name (a checkpoint's too).
JOB = r"(?:local)?(?:rule|checkpoint) (\w+):"


def planned_jobs(folder, *args) -> set[str]:
    """The rules a dry run would run."""
    result = snakemake(folder, "--dry-run", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return set(re.findall(rf"^{JOB}$", result.stdout, flags=re.MULTILINE))


def planned_job_list(folder, *args) -> set[str]:
    """The jobs a dry run would run, each as its rule and wildcards: "train_cnn",
    "score/cnn/hmm" (the wildcards' values in the order of the rule's)."""
    result = snakemake(folder, "--dry-run", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = set()
    starts = r"^(?=(?:local)?(?:rule|checkpoint) \w+:$)"  # JOB, without its group
    for block in re.split(starts, result.stdout, flags=re.MULTILINE)[1:]:
        rule = re.match(JOB, block)[1]
        wildcards = re.search(r"^    wildcards: (.*)$", block, flags=re.MULTILINE)
        values = [pair.split("=", 1)[1] for pair in wildcards[1].split(", ")] if wildcards else []
        jobs.add("/".join([rule, *values]))
    return jobs


def family_jobs(family) -> set[str]:
    """The jobs of one model family: its training, evaluation, smoothing and scores."""
    return {f"train_{family}", f"evaluate/{family}", f"smooth/{family}"} | {
        f"score/{family}/{smoothing}" for smoothing in ("none", "hmm")
    }


def job_counts(folder, *args) -> dict[str, int]:
    """The jobs a dry run would run, counted per rule (from its job stats)."""
    result = snakemake(folder, "--dry-run", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return job_stats(result.stdout)


def job_stats(output) -> dict[str, int]:
    """The jobs of a run (or dry run) per rule, from the job stats in its `output`."""
    stats = output.split("Job stats:")[-1].split("total")[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE)}


@pytest.fixture
def run(small_run):
    return small_run


def tutorial_processed_data(source, folder, participants):
    """processed_data made the tutorial's way, with pandas, from `participants`' recordings in a
    Capture-24 folder."""
    X, Y, T, P = [], [], [], []
    for pid in participants:
        data = pd.read_csv(
            source / f"{pid}.csv.gz",
            index_col="time",
            parse_dates=["time"],
            dtype={"x": "f4", "y": "f4", "z": "f4", "annotation": "string"},
        )
        for start, window in data.resample("30s", origin="start"):
            if len(window) != 3000 or window[["x", "y", "z"]].isna().any().any():
                continue
            label = window["annotation"].mode(dropna=False).iloc[0]
            if pd.isna(label):
                continue
            X.append(window[["x", "y", "z"]].to_numpy())
            Y.append(label)
            T.append(start)
            P.append(pid)
    folder.mkdir()
    np.save(folder / "X.npy", np.asarray(X, dtype="f4"))
    np.save(folder / "Y.npy", np.asarray(Y))
    np.save(folder / "T.npy", np.asarray(T, dtype="datetime64[ns]"))
    np.save(folder / "pid.npy", np.asarray(P))
    return folder


def test_synthetic_source_is_laid_out_like_capture24(run):
    source = run / "resources" / "synthetic"
    assert sorted(p.name for p in source.iterdir()) == sorted(
        [f"{p}.csv.gz" for p in PARTICIPANTS] + ["annotation-label-dictionary.csv", "metadata.csv"]
    )
    assert pd.read_csv(source / "metadata.csv").pid.tolist() == PARTICIPANTS


def test_window_stores_hold_every_participant(run):
    for participant in PARTICIPANTS:
        ds = xr.open_zarr(run / "results" / "windows" / f"{participant}.zarr")
        assert ds.acceleration.shape[1:] == (3000, 3)
        assert ds.attrs["windows_kept"] == ds.sizes["window"] > 30
        drops = ds.attrs["windows_dropped"]
        assert set(drops) == {"incomplete", "nan", "infinite"}
        assert ds.attrs["rows_read"] == 360_000
        assert ds.sizes["window"] + sum(drops.values()) == 120  # an hour of 30 s bins


def test_the_spectrogram_stores_open_as_one_with_named_dims_and_coordinates(run):
    folder = run / "results" / "spectrograms"
    assert sorted(p.name for p in folder.iterdir()) == [f"{p}.zarr" for p in PARTICIPANTS]
    ds = open_spectrograms(folder)
    assert ds.spectrogram.dims == ("window", "channel", "frequency", "frame")
    assert ds.spectrogram.shape[1:] == (3, 61, 61)
    for name in ("participant", "window_start", "annotation"):
        assert ds[name].dims == ("window",)
    assert "label" not in ds.coords and "label_scheme" not in ds.attrs  # labels are not cached
    assert list(dict.fromkeys(ds.participant.values.tolist())) == PARTICIPANTS
    for participant in PARTICIPANTS:  # every window of the window store, annotation included
        windows = xr.open_zarr(run / "results" / "windows" / f"{participant}.zarr")
        mine = ds.participant.values == participant
        np.testing.assert_array_equal(ds.annotation.values[mine], windows.annotation.values)
    assert not np.isnan(ds.spectrogram.values).any()


def test_split_checkpoint_and_history(run):
    split = pd.read_csv(run / "results" / "split.csv")
    assert sorted(split.participant[split.set == "test"]) == TEST
    assert (split.set == "validation").sum() == round(0.25 * (len(PARTICIPANTS) - len(TEST)))
    metadata = pd.read_csv(run / "resources" / "synthetic" / "metadata.csv")
    assert split[["age", "sex"]].to_numpy().tolist() == metadata[["age", "sex"]].to_numpy().tolist()
    history = pd.read_csv(run / "results" / "cnn" / "history.csv")
    assert list(history.columns) == [
        "epoch",
        "train_loss",
        "val_loss",
        "val_kappa",
        "val_macro_f1",
        "seconds",
        "windows_per_s",
        "device",
        "selected",
    ]
    assert history.selected.sum() == 1 and (history.device == "cpu").all()
    assert not (run / "results" / "cnn" / "train-state.pt").exists()
    checkpoint = torch.load(run / "results" / "cnn" / "model.pt", weights_only=True)
    assert checkpoint["best_epoch"] == history.epoch[history.selected].item()
    assert checkpoint["spectrogram"]["n_fft"] == 120
    assert checkpoint["classes"] == sorted(checkpoint["classes"])


@pytest.mark.parametrize("name", RUNS)
def test_every_model_and_smoothing_beats_chance_on_held_out_participants(run, name):
    table = pd.read_parquet(run / "results" / name / "predictions.parquet")
    split = pd.read_csv(run / "results" / "split.csv")
    for name_of_set in ("validation", "test"):
        mine = table.participant[table.set == name_of_set]
        assert sorted(mine.unique()) == sorted(split.participant[split.set == name_of_set])
    probabilities = table.filter(like="probability_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    predictions = table[table.set == "test"]
    metrics = json.loads((run / "results" / name / "metrics.json").read_text())
    assert metrics["n_windows"] == metrics["intervals"]["n_windows"] == len(predictions)
    majority = predictions.label.value_counts(normalize=True).iloc[0]
    assert metrics["kappa"] > 0.3, metrics
    assert metrics["accuracy"] > majority, metrics
    assert metrics["intervals"]["kappa"]["estimate"] == pytest.approx(metrics["kappa"])
    assert [group["group"] for group in metrics["groups"]["sex"]] == sorted(
        set(split.sex[split.set == "test"])
    )
    assert "macro avg" in (run / "results" / name / "classification_report.txt").read_text()


def test_smoothing_changes_only_the_predicted_classes(run):
    for model in ("cnn", "forest"):
        plain, smoothed = (
            pd.read_parquet(run / "results" / model / s / "predictions.parquet")
            for s in ("none", "hmm")
        )
        pd.testing.assert_frame_equal(
            plain.drop(columns="predicted"), smoothed.drop(columns="predicted")
        )
        hmm = json.loads((run / "results" / model / "hmm" / "hmm.json").read_text())
        np.testing.assert_allclose(np.sum(hmm["transition"], axis=1), 1)


def test_the_comparison_has_a_row_per_model_and_smoothing_with_intervals(run):
    table = pd.read_csv(run / "results" / "comparison.csv")
    assert [f"{m}/{s}" for m, s in zip(table.model, table.smoothing, strict=True)] == RUNS
    for name in ("kappa", "macro_f1", "accuracy", "balanced_accuracy"):
        assert (table[f"{name}_low"] <= table[f"{name}_high"]).all()
    for row in table.itertuples():
        metrics = json.loads(
            (run / "results" / row.model / row.smoothing / "metrics.json").read_text()
        )
        assert row.kappa == pytest.approx(metrics["kappa"])
        assert row.n_windows == metrics["n_windows"]


def test_report_logs_and_benchmarks(run):
    page = (run / "results" / "report" / "report.html").read_text()
    # The comparison, examples and training curves, and each run's two figures.
    assert page.count("data:image/png;base64,") == 3 + 2 * len(RUNS)
    assert "Test kappa by sex" in page and "Comparison" in page
    for caption in (REPO / "workflow" / "report").glob("*.rst"):
        assert f"<figcaption>{html.escape(' '.join(caption.read_text().split()))}<" in page
    assert (
        "Data quality per participant" in page
        and "30 s windows (starting\nevery 30 s) kept" in page
    )
    qc = pd.read_csv(run / "results" / "qc.csv", keep_default_na=False)
    assert qc.participant.tolist() == PARTICIPANTS and (qc.error == "").all()
    stores = [xr.open_zarr(run / "results" / "windows" / f"{p}.zarr") for p in PARTICIPANTS]
    assert qc.windows_kept.tolist() == [ds.sizes["window"] for ds in stores]
    labelled = qc.filter(like="label_").sum(axis=1)
    assert (labelled + qc.unannotated).tolist() == qc.windows_kept.tolist()
    jobs = ["qc", "split", "compare", "report", "train/cnn", "train/forest", "evaluate/cnn"]
    jobs += ["smooth/forest", "score/cnn-hmm", "score/forest-none"]
    jobs += [f"{rule}/{p}" for rule in ("spectrogram", "features") for p in PARTICIPANTS]
    for job in jobs:
        assert (run / "logs" / "benchmarks" / f"{job}.tsv").exists()
        assert (run / "logs" / f"{job}.log").exists()
    # Every job of the run but the target's recorded its time and memory (benchmarks/scale.py).
    counts = job_stats(min((run / ".snakemake" / "log").glob("*.snakemake.log")).read_text())
    recorded = list((run / "logs" / "benchmarks").rglob("*.tsv"))
    assert len(recorded) == sum(counts.values()) - counts["all"]
    assert "windows kept" in (run / "logs" / "windows" / f"{PARTICIPANTS[0]}.log").read_text()


def test_a_cnn_setting_reruns_the_cnn_and_a_forest_setting_the_forest_only(run):
    assert planned_jobs(run) == set()
    # What takes every model: the comparison, the selection, the report and the target.
    after = {"compare", "select_model", "report", "all"}
    assert planned_job_list(run, "--config", "train={learning_rate: 0.01}") == {
        *family_jobs("cnn"),
        *after,
    }
    assert planned_job_list(run, "--config", "cnn={width: 4}") == {*family_jobs("cnn"), *after}
    assert planned_job_list(run, "--config", "forest={n_estimators: 10}") == {
        *family_jobs("forest"),
        *after,
    }
    assert planned_job_list(run, "--config", "forest={seed: 7}") == {
        *family_jobs("forest"),
        *after,
    }


def test_a_label_scheme_reruns_no_windows_or_spectrograms(run):
    assert planned_jobs(run, "--config", "labels={scheme: Walmsley2020}") == {
        "qc",
        "train_cnn",
        "train_forest",
        *AFTER_TRAINING,
    }


def test_an_stft_setting_reruns_the_spectrograms_not_the_windows(run):
    assert planned_jobs(run, "--config", "spectrogram={hop_length: 40}") == {
        "spectrogram",
        "train_cnn",
        *AFTER_TRAINING,
    }


def test_a_bad_setting_stops_before_anything_runs(run):
    result = snakemake(run, "--cores", "1", "--config", "labels={scheme: Willets2018}")
    assert result.returncode != 0
    assert "labels.scheme: 'Willets2018' is not a scheme of" in result.stderr


def test_a_split_naming_an_absent_participant_stops_before_any_job(tmp_path):
    folder = workflow_folder(tmp_path, split={"test": ["P101-P151", "P999"]})
    (folder / "results").mkdir()
    (folder / "results" / "split.csv").write_text("the last run's split\n")
    result = snakemake(folder, "--cores", "1")
    assert result.returncode != 0
    assert "split.test names participant 'P999', which is not in the source" in result.stderr
    assert (folder / "results" / "split.csv").read_text() == "the last run's split\n"
    assert sorted(path.name for path in (folder / "results").iterdir()) == ["split.csv"]


def test_a_hand_edited_split_trains_nothing(run, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(run, folder, ignore=shutil.ignore_patterns(".snakemake"))
    table = folder / "results" / "split.csv"
    split = pd.read_csv(table)
    split.loc[split.participant == TEST[0], "set"] = "train"  # a test participant trained on
    split.to_csv(table, index=False)
    metrics = {path: path.read_bytes() for path in (folder / "results").rglob("metrics.json")}
    result = snakemake(folder, "--cores", "2", "--keep-going")  # every job that can run
    assert result.returncode != 0
    refused = (
        f"spectrohar: results/split.csv: participant '{TEST[0]}' is in train, but the config's "
        "split settings put it in test"
    )
    assert result.stderr.count(refused) == 2  # by train_cnn and train_forest
    assert not list((folder / "results").rglob("model.*"))  # none trained with it
    assert metrics and all(path.read_bytes() == before for path, before in metrics.items())


def test_processed_data_gives_the_same_spectrograms_as_the_raw_files(run, tmp_path):
    synthetic = run / "resources" / "synthetic"
    three = PARTICIPANTS[:3]  # more would test nothing more
    processed = tutorial_processed_data(synthetic, tmp_path / "processed_data", three)
    folder = workflow_folder(
        tmp_path,
        source={"kind": "npy", "path": str(processed), "participants": [], "on_error": "stop"},
        labels={
            "scheme": "Willetts2018",
            "dictionary": str(synthetic / "annotation-label-dictionary.csv"),
            "unknown": "error",
        },
    )
    stores = [f"results/spectrograms/{p}.zarr" for p in three]
    result = snakemake(folder, "--cores", "2", *stores)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    raw, npy = (open_spectrograms([f / store for store in stores]) for f in (run, folder))
    assert sorted(p.name for p in (folder / "results" / "spectrograms").iterdir()) == [
        f"{p}.zarr" for p in three
    ]
    # processed_data holds the annotated windows only; the raw files' stores keep the others.
    raw = raw.isel(window=(raw.annotation != "").values)
    assert raw.sizes == npy.sizes
    for name in ("participant", "window_start", "annotation"):
        np.testing.assert_array_equal(raw[name].values, npy[name].values)
    np.testing.assert_array_equal(raw.spectrogram.values, npy.spectrogram.values)


def test_a_bad_recording_stops_the_run_or_is_skipped(run, tmp_path):
    capture24 = tmp_path / "capture24"
    shutil.copytree(run / "resources" / "synthetic", capture24)
    bad = capture24 / f"{PARTICIPANTS[1]}.csv.gz"
    bad.write_bytes(bad.read_bytes()[:100_000])
    three = PARTICIPANTS[:3]  # the bad one among them
    source = {"kind": "capture24", "path": str(capture24), "participants": three}
    folder = workflow_folder(tmp_path, source={**source, "on_error": "stop"})

    stopped = snakemake(folder, "--cores", "2", "results/qc.csv")
    assert stopped.returncode != 0
    assert f"spectrohar: {bad}: cannot be read as a Capture-24 recording" in stopped.stderr
    assert not (folder / "results" / "windows" / f"{PARTICIPANTS[1]}.zarr").exists()

    skipped = snakemake(
        folder, "--cores", "2", "results/qc.csv", "--config", "source={on_error: skip}"
    )
    assert skipped.returncode == 0, skipped.stderr[-4000:]
    qc = pd.read_csv(folder / "results" / "qc.csv", keep_default_na=False).set_index("participant")
    assert qc.error[PARTICIPANTS[1]].startswith(f"{bad}: cannot be read")
    assert qc.index.tolist() == three
    assert (qc.windows_kept > 0).sum() == len(three) - 1
    assert (qc.error == "").sum() == len(three) - 1


def test_a_killed_forcerun_is_finished_by_a_plain_rerun(run, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(run, folder, ignore=shutil.ignore_patterns(".snakemake"))
    model, log = folder / "results" / "cnn" / "model.pt", folder / "logs" / "train" / "cnn.log"
    log.unlink()
    # Training that would not end before the kill lands, however slowly the test polls.
    endless = "train={max_epochs: 10000, patience: 10000}"
    forced = subprocess.Popen(
        [*SNAKEMAKE, "--configfile", "small.yaml", "--cores", "1", "--forcerun", "train_cnn"]
        + ["--config", endless],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600  # Snakemake starts slowly on a busy machine
    while not log.exists() and time.monotonic() < deadline:  # the job has started
        time.sleep(0.2)
    assert log.exists(), "the forced train_cnn job did not start within 600 s"
    os.killpg(forced.pid, signal.SIGINT)  # Ctrl-C in a terminal
    forced.wait(timeout=300)
    assert not model.exists()
    # A plain rerun makes it again, and what follows it (that such a run finishes, the small
    # run shows: it is not run again here, to keep the suite within its minutes).
    assert planned_jobs(folder) == {"train_cnn", *AFTER_TRAINING}


def test_a_recompressed_copy_of_a_recording_is_refused_at_the_split(run, tmp_path):
    capture24 = tmp_path / "capture24"
    shutil.copytree(run / "resources" / "synthetic", capture24)
    original = capture24 / f"{TEST[0]}.csv.gz"
    copy = capture24 / f"{TEST[0]}_old.csv.gz"
    copy.write_bytes(gzip.compress(gzip.decompress(original.read_bytes()), compresslevel=1))
    # The recording and its copy, the first a training participant: the split looks no further.
    participants = [PARTICIPANTS[0], TEST[0], f"{TEST[0]}_old"]
    source = {"kind": "capture24", "path": str(capture24), "participants": participants}
    source["on_error"] = "stop"
    result = snakemake(
        workflow_folder(tmp_path, source=source), "--cores", "2", "results/split.csv"
    )
    assert result.returncode != 0
    assert f"spectrohar: {original} and {copy} hold the same recording" in result.stderr


def test_adding_a_participant_builds_its_stores_only(tmp_path):
    source = {"kind": "synthetic", "path": "resources/synthetic", "on_error": "stop"}
    three = PARTICIPANTS[:3]
    folder = workflow_folder(tmp_path, source={**source, "participants": three[:-1]})
    kinds = ("spectrograms", "features")  # the stores made from a participant's windows
    stores = [f"results/{kind}/{p}.zarr" for kind in kinds for p in three[:-1]]
    result = snakemake(folder, "--cores", "2", *stores)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert set(job_counts(folder, *stores)) == set()

    added = f"source={{participants: [{', '.join(three)}]}}"
    jobs = job_counts(folder, "--config", added)
    # The new participant's recording, windows, spectrograms and features; the synthetic source's
    # table of participants; then what takes them all.
    assert jobs["synthesize_recording"] == jobs["windows"] == jobs["spectrogram"] == 1
    assert jobs["features"] == 1
    assert set(jobs) == {
        "synthesize_recording",
        "synthesize_metadata",
        "windows",
        "spectrogram",
        "features",
        "qc",
        "split",
        "train_cnn",
        "train_forest",
        *AFTER_TRAINING,
    }
