"""Anyone's data through the real workflow: own participant ids and label scheme from a folder of
CSVs, the same data as processed_data, one unlabelled recording at another rate, and what is
refused. Each run uses a config of the README's "Your own data" section as written there, with
its placeholder paths pointed at data made here and a small model (small.yaml) merged over it."""

import copy
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
import yaml
from conftest import REPO, SMALL, snakemake

from spectrohar import open_spectrograms

pytestmark = pytest.mark.slow  # every test here runs Snakemake

RATE = 100  # Hz
WINDOW_S = 30
BOUT_S = 300  # 10 windows of one activity
UNANNOTATED_S = 120  # a still stretch without annotation ends each recording: 4 windows
IDS = [f"subj{n:02d}" for n in range(1, 9)]
TEST = ["subj07", "subj08"]
DICTIONARY = "annotation-label-dictionary.csv"
# annotation -> label under label:Mine, and the activity's sine frequency (Hz) and amplitude (g)
ACTIVITIES = {
    "desk work": ("still", 0.0, 0.0),
    "reading": ("still", 0.0, 0.0),
    "walking": ("walk", 2.0, 0.3),
    "running": ("run", 3.0, 0.8),
    "cycling": ("cycle", 1.0, 0.2),
}
DICTIONARY_CSV = "annotation,label:Mine\n" + "".join(
    f"{annotation},{label}\n" for annotation, (label, _, _) in ACTIVITIES.items()
)
LABELS = ["cycle", "run", "still", "walk"]
BOUTS = ["desk work", "reading", "walking", "walking", "running", "running", "cycling", "cycling"]
ANNOTATED = len(BOUTS) * BOUT_S // WINDOW_S  # 80 annotated windows per participant
WINDOWS = ANNOTATED + UNANNOTATED_S // WINDOW_S  # 84
# test_workflow's small models and training, merged over the README's config (its synthetic
# dataset aside): among them validation_fraction 0.25, so round(0.25 * 6) = 2 validation
# participants of the 6 that are not test.
TRAINING = {name: section for name, section in SMALL.items() if name != "synthetic"}
# The CNN alone, both smoothings: the data path is the same for every model family
# (test_workflow runs them all).
CNN_ONLY = TRAINING | {"compare": TRAINING.get("compare", {}) | {"models": ["cnn"]}}


def readme_section() -> str:
    text = (REPO / "README.md").read_text()
    assert text.count("\n## Your own data\n") == 1
    return text.split("\n## Your own data\n")[1].split("\n## ")[0]


def readme_configs() -> tuple[dict, dict, dict]:
    """The section's three configs: a CSV folder, processed_data, one unlabelled recording."""
    blocks = re.findall(r"```yaml\n(.*?)```", readme_section(), flags=re.DOTALL)
    assert len(blocks) == 3, blocks
    return tuple(yaml.safe_load(block) for block in blocks)


def pointed(config, path, dictionary=None) -> dict:
    """A README config with its placeholder paths replaced."""
    config = copy.deepcopy(config)
    assert config["source"]["path"].startswith("/data/")
    config["source"]["path"] = str(path)
    if dictionary is not None:
        assert config["labels"]["dictionary"].startswith("/data/")
        config["labels"]["dictionary"] = str(dictionary)
    return config


def workflow(folder, config, small=TRAINING):
    folder.mkdir()
    shutil.copy(REPO / "config.yaml", folder)
    (folder / "mine.yaml").write_text(yaml.safe_dump(config))
    (folder / "small.yaml").write_text(yaml.safe_dump(small))
    return folder


def run_mine(folder, *args):
    """Snakemake with mine.yaml, then small.yaml, over config.yaml."""
    return snakemake(folder, *args, configfiles=("mine.yaml", "small.yaml"))


def write_csv(path, start, acceleration, annotation=None, rate=RATE):
    """A recording file written with pandas: time,x,y,z[,annotation], 4 decimals."""
    step_ns = round(1e9 / rate)
    time = pd.Timestamp(start) + pd.to_timedelta(np.arange(len(acceleration)) * step_ns, "ns")
    columns = {"time": time.strftime("%Y-%m-%d %H:%M:%S.%f")}
    columns |= {axis: acceleration[:, i] for i, axis in enumerate("xyz")}
    if annotation is not None:
        columns["annotation"] = annotation
    gzip = {"method": "gzip", "compresslevel": 1} if path.name.endswith(".gz") else None
    pd.DataFrame(columns).to_csv(path, index=False, float_format="%.4f", compression=gzip)


def activity(frequency, amplitude, seconds, rng):
    """Wrist acceleration (g) of one bout: gravity on z, a sine of the activity, noise."""
    t = np.arange(seconds * RATE) / RATE
    phase = rng.uniform(0, 2 * np.pi)
    wave = 2 * np.pi * frequency * t + phase
    signal = np.stack(
        [
            amplitude * np.sin(wave),
            amplitude / 2 * np.cos(wave),
            1 + amplitude / 4 * np.sin(2 * wave),
        ],
        axis=1,
    )
    return signal + rng.normal(0, 0.02, signal.shape)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """subj01..subj08: 8 bouts of 5 minutes in a shuffled order, then 2 unannotated minutes,
    as a folder of CSVs with the dictionary of label:Mine, and as processed_data (the
    annotated windows, cut here from the same samples)."""
    root = tmp_path_factory.mktemp("data")
    mine, processed = root / "mine", root / "mine_processed"
    mine.mkdir()
    processed.mkdir()
    (mine / DICTIONARY).write_text(DICTIONARY_CSV)
    rng = np.random.default_rng(7)
    recordings = {}
    X, Y, T, P = [], [], [], []
    for day, participant in enumerate(IDS):
        order = rng.permutation(BOUTS)
        parts = [activity(*ACTIVITIES[a][1:], BOUT_S, rng) for a in order]
        parts.append(activity(0.0, 0.0, UNANNOTATED_S, rng))
        acceleration = np.concatenate(parts).round(4)
        annotation = np.repeat(np.append(order, None), [BOUT_S * RATE] * 8 + [UNANNOTATED_S * RATE])
        start = pd.Timestamp("2024-03-01 09:00") + pd.Timedelta(days=day)
        write_csv(mine / f"{participant}.csv.gz", start, acceleration, annotation)
        windows = acceleration.reshape(WINDOWS, WINDOW_S * RATE, 3).astype(np.float32)
        starts = start + pd.to_timedelta(np.arange(WINDOWS) * WINDOW_S, "s")
        annotations = np.append(np.repeat(order, BOUT_S // WINDOW_S), [""] * (WINDOWS - ANNOTATED))
        recordings[participant] = {"windows": windows, "start": starts, "annotation": annotations}
        X.append(windows[:ANNOTATED])
        Y += list(annotations[:ANNOTATED])
        T += list(starts[:ANNOTATED])
        P += [participant] * ANNOTATED
    np.save(processed / "X.npy", np.concatenate(X))
    np.save(processed / "Y.npy", np.asarray(Y))
    np.save(processed / "T.npy", np.asarray(T, dtype="datetime64[ns]"))
    np.save(processed / "pid.npy", np.asarray(P))
    return {"mine": mine, "processed": processed, "recordings": recordings}


def label_of(annotation):
    return ACTIVITIES[annotation][0]


@pytest.fixture(scope="module")
def csv_run(dataset, tmp_path_factory):
    config = pointed(readme_configs()[0], dataset["mine"])
    folder = workflow(tmp_path_factory.mktemp("csv") / "run", config, CNN_ONLY)
    result = run_mine(folder, "--cores", "2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return folder


# What the processed_data run builds: its windows, their quality table and the split; the
# models read the same windows as the CSV run's (asserted below), so it trains none.
NPY_TARGETS = [
    *(f"results/windows/{participant}.zarr" for participant in IDS),
    "results/qc.csv",
    "results/split.csv",
]


@pytest.fixture(scope="module")
def npy_run(dataset, tmp_path_factory):
    config = pointed(readme_configs()[1], dataset["processed"], dataset["mine"] / DICTIONARY)
    folder = workflow(tmp_path_factory.mktemp("npy") / "run", config)
    result = run_mine(folder, "--cores", "2", *NPY_TARGETS)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return folder


def runs(folder) -> list[str]:
    """The model x smoothing runs of the workflow in `folder`: its config.yaml's compare
    section, or small.yaml's where it has one (mine.yaml has none)."""
    compare = yaml.safe_load((folder / "config.yaml").read_text())["compare"]
    compare |= yaml.safe_load((folder / "small.yaml").read_text()).get("compare", {})
    return [
        f"{model}/{smoothing}" for model in compare["models"] for smoothing in compare["smoothing"]
    ]


def check_model_outputs(run, test_participants, dataset) -> dict[str, dict]:
    """Models, predictions, metrics, comparison and report of a finished run, with the classes
    of label:Mine: every annotated window of the test participants predicted by every run, with
    its label, no unannotated one. Returns each run's metrics."""
    checkpoint = torch.load(run / "results" / "cnn" / "model.pt", weights_only=True)
    assert checkpoint["classes"] == LABELS
    scores = {}
    for name in runs(run):
        table = pd.read_parquet(run / "results" / name / "predictions.parquet")
        probabilities = sorted(table.filter(like="probability_").columns)
        assert probabilities == [f"probability_{c}" for c in LABELS], name
        test = table[table.set == "test"]
        assert sorted(test.participant.unique()) == sorted(test_participants), name
        for participant in test_participants:
            recording = dataset["recordings"][participant]
            mine = test[test.participant == participant].sort_values("window_start")
            expected_starts = recording["start"][:ANNOTATED].to_numpy()
            np.testing.assert_array_equal(mine.window_start.to_numpy(), expected_starts)
            expected = [label_of(a) for a in recording["annotation"][:ANNOTATED]]
            assert mine.label.tolist() == expected, name
        assert set(table.predicted) <= set(LABELS), name
        metrics = json.loads((run / "results" / name / "metrics.json").read_text())
        assert metrics["n_windows"] == len(test) == ANNOTATED * len(test_participants), name
        assert set(metrics["classes"]) <= set(LABELS), name
        classification = (run / "results" / name / "classification_report.txt").read_text()
        assert all(label in classification for label in LABELS), name
        scores[name] = metrics
    comparison = pd.read_csv(run / "results" / "comparison.csv")
    assert len(comparison) == len(runs(run))
    page = (run / "results" / "report" / "report.html").read_text()
    assert "\n  scheme: Mine\n" in page  # the run's parameters
    return scores


def test_the_readme_shows_the_configs_run_here():
    folder, processed, recording = readme_configs()
    assert folder["source"]["kind"] == recording["source"]["kind"] == "capture24"
    assert processed["source"]["kind"] == "npy"
    assert folder["labels"] == {"scheme": "Mine", "dictionary": None, "unknown": "error"}
    assert folder["split"] == {"test": TEST, "test_fraction": None}
    assert processed["labels"]["scheme"] == "Mine"
    assert processed["split"] == {"test": [], "test_fraction": 0.25}
    assert recording["windows"] == {"resample": True}
    section = readme_section()
    assert f"```csv\n{DICTIONARY_CSV}```" in section
    assert "snakemake --cores 8 --configfile mine.yaml\n" in section
    command = "--configfile mine.yaml results/windows/wrist.zarr results/spectrograms/wrist.zarr"
    assert command in section


def test_a_folder_of_csvs_with_own_ids_and_scheme_runs_end_to_end(csv_run, dataset):
    split = pd.read_csv(csv_run / "results" / "split.csv")
    assert split.participant.tolist() == IDS
    assert sorted(split.participant[split.set == "test"]) == TEST
    assert (split.set == "validation").sum() == 2 and (split.set == "train").sum() == 4

    for participant in IDS:  # every window kept, the unannotated ones as ""
        recording = dataset["recordings"][participant]
        ds = xr.open_zarr(csv_run / "results" / "windows" / f"{participant}.zarr")
        assert ds.sizes["window"] == WINDOWS
        assert ds.attrs["windows_unannotated"] == WINDOWS - ANNOTATED
        assert ds.annotation.values.tolist() == recording["annotation"].tolist()
        np.testing.assert_array_equal(ds.window_start.values, recording["start"].to_numpy())
        np.testing.assert_allclose(ds.acceleration.values, recording["windows"], atol=1e-6)

    spectrograms = open_spectrograms(csv_run / "results" / "spectrograms")
    assert spectrograms.sizes["window"] == WINDOWS * len(IDS)
    assert list(dict.fromkeys(spectrograms.participant.values.tolist())) == IDS

    scores = check_model_outputs(csv_run, TEST, dataset)
    # Each label is 2 of a test participant's 8 bouts: a quarter of the windows, and the
    # activities differ plainly.
    for name, metrics in scores.items():
        assert metrics["accuracy"] > 0.5, (name, metrics)
    qc = pd.read_csv(csv_run / "results" / "qc.csv", keep_default_na=False)
    assert qc.participant.tolist() == IDS
    assert qc.windows_kept.tolist() == [WINDOWS] * len(IDS)


def test_the_same_data_as_processed_data_gives_the_same_windows_labels_and_a_split(
    npy_run, csv_run
):
    split = pd.read_csv(npy_run / "results" / "split.csv")
    assert split.participant.tolist() == IDS
    counts = split.set.value_counts().to_dict()
    assert counts == {"test": 2, "validation": 2, "train": 4}  # 0.25 of 8, then of 6

    for participant in IDS:  # the CSV run's annotated windows, the same samples
        npy = xr.open_zarr(npy_run / "results" / "windows" / f"{participant}.zarr")
        csv = xr.open_zarr(csv_run / "results" / "windows" / f"{participant}.zarr")
        csv = csv.isel(window=slice(0, ANNOTATED))
        assert npy.sizes["window"] == ANNOTATED and npy.attrs["windows_unannotated"] == 0
        for name in ("window_start", "annotation"):
            np.testing.assert_array_equal(npy[name].values, csv[name].values)
        np.testing.assert_allclose(npy.acceleration.values, csv.acceleration.values, atol=1e-6)

    # Labelled under label:Mine of labels.dictionary: every annotated window, none left out.
    qc = pd.read_csv(npy_run / "results" / "qc.csv", keep_default_na=False)
    assert qc.participant.tolist() == IDS
    assert sorted(qc.filter(like="label_").columns) == [f"label_{label}" for label in LABELS]
    assert (qc.filter(like="label_").sum(axis=1) == ANNOTATED).all()
    assert (qc.unannotated == 0).all()
    assert not (npy_run / "results" / "spectrograms").exists()


def test_one_unlabelled_recording_at_80_hz_gives_its_windows_and_spectrograms(tmp_path):
    source = tmp_path / "wrist"
    source.mkdir()
    rate, rows = 80, 49_384  # the last sample 49383 / 80 = 617.2875 s after the first
    t = np.arange(rows) / rate

    def signal(seconds):
        return np.stack(
            [
                0.1 * np.sin(2 * np.pi * 0.5 * seconds),
                0.05 * np.cos(2 * np.pi * 0.25 * seconds),
                1 + 0.02 * np.sin(2 * np.pi * 1.5 * seconds),
            ],
            axis=-1,
        )

    start = pd.Timestamp("2024-05-02 13:45:10")
    write_csv(source / "wrist.csv", start, signal(t).round(4), rate=rate)
    assert (source / "wrist.csv").read_text().startswith("time,x,y,z\n")

    folder = workflow(tmp_path / "run", pointed(readme_configs()[2], source))
    stores = ["results/windows/wrist.zarr", "results/spectrograms/wrist.zarr"]
    result = run_mine(folder, "--cores", "2", *stores)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "no dictionary beside the data; using Capture-24's" in result.stderr
    assert not (folder / "results" / "split.csv").exists()

    complete = 20  # floor(617.2875 / 30): the 21st window would end at 630 s
    windows = xr.open_zarr(folder / stores[0])
    assert windows.sizes["window"] == complete
    assert windows.annotation.values.tolist() == [""] * complete
    assert windows.attrs["windows_unannotated"] == complete
    assert windows.attrs["windows_dropped"]["incomplete"] == 1
    assert windows.attrs["rows_read"] == rows
    starts = start + pd.to_timedelta(np.arange(complete) * WINDOW_S, "s")
    np.testing.assert_array_equal(windows.window_start.values, starts.to_numpy())
    at = np.arange(complete)[:, None] * WINDOW_S + np.arange(WINDOW_S * RATE) / RATE
    np.testing.assert_allclose(windows.acceleration.values, signal(at), rtol=0, atol=2e-4)

    spectrograms = xr.open_zarr(folder / stores[1])
    assert spectrograms.sizes["window"] == complete
    assert spectrograms.annotation.values.tolist() == [""] * complete
    np.testing.assert_array_equal(spectrograms.window_start.values, starts.to_numpy())
    assert np.isfinite(spectrograms.spectrogram.values).all()


def test_a_file_named_no_participant_id_is_refused_and_one_no_recording_named(dataset, tmp_path):
    source = tmp_path / "mine"
    shutil.copytree(dataset["mine"], source)
    still = activity(0, 0, 60, np.random.default_rng(1))
    (source / "notes.txt").write_text("subj01: left wrist\n")
    folder = workflow(tmp_path / "run", pointed(readme_configs()[0], source))
    # A file that is no recording is named, not passed over.
    planned = run_mine(folder, "--dry-run")
    assert planned.returncode == 0, planned.stderr[-2000:]
    said = planned.stdout + planned.stderr  # a dry run logs to stdout
    assert f"source.path: {source / 'notes.txt'}: not read: not a recording file" in said
    write_csv(source / "bad id.csv", "2024-03-01 09:00", still.round(4))
    result = run_mine(folder, "--cores", "1")
    assert result.returncode != 0
    assert f"{source / 'bad id.csv'}: 'bad id' is not a usable participant id" in result.stderr
    assert not (folder / "results").exists()


def test_an_unknown_scheme_is_refused_naming_the_dictionary_s_schemes(dataset, tmp_path):
    config = pointed(readme_configs()[0], dataset["mine"])
    config["labels"]["scheme"] = "Willetts2018"  # Capture-24's, not in this dictionary
    folder = workflow(tmp_path / "run", config)
    result = run_mine(folder, "--cores", "1")
    assert result.returncode != 0
    dictionary = dataset["mine"] / DICTIONARY
    assert (
        f"labels.scheme: 'Willetts2018' is not a scheme of {dictionary} "
        "(its label:<scheme> columns: Mine)"
    ) in result.stderr
    assert not (folder / "results").exists()


def test_processed_data_whose_starts_contradict_the_window_settings_is_refused(dataset, tmp_path):
    config = pointed(readme_configs()[1], dataset["processed"], dataset["mine"] / DICTIONARY)
    config["windows"] = {"length_s": 60, "sample_rate": 50}  # also 3000 samples a window
    folder = workflow(tmp_path / "run", config)
    result = run_mine(folder, "--cores", "1")
    assert result.returncode != 0
    assert (
        f"{dataset['processed'] / 'T.npy'}: participant 'subj01''s windows start 30 s apart"
    ) in result.stderr
    assert "less than windows.length_s 60 s (windows.step_s is unset)" in result.stderr
    assert "overlap; set windows.step_s: 30 to take them as overlapping windows" in result.stderr
    assert not (folder / "results").exists()


FEW = IDS[:4]
OVERLAP_S = 15  # half a window
OVERLAPPING = (ANNOTATED - 1) * WINDOW_S // OVERLAP_S + 1  # 159 windows of the annotated 40 min
# Predicting a whole recording (42 min): starts 0, 15, ..., 2490 s, each window standing for 15 s.
PREDICTED_S = ((WINDOWS - 1) * WINDOW_S // OVERLAP_S + 1) * OVERLAP_S


def test_processed_data_with_half_overlapping_windows_runs_with_their_step(dataset, tmp_path):
    # The annotated part of each recording as 30 s windows every 15 s, each annotated as at its
    # middle; the run trains, smooths and predicts the CSV recordings with the model's step.
    # Four participants (one each to test and validate, two to train) and two recordings to
    # predict keep the run short.
    processed, recordings = tmp_path / "overlapping", tmp_path / "recordings"
    processed.mkdir()
    recordings.mkdir()
    X, Y, T, P = [], [], [], []
    for participant in FEW:
        recording = dataset["recordings"][participant]
        samples = recording["windows"][:ANNOTATED].reshape(-1, 3)
        first = np.arange(OVERLAPPING) * OVERLAP_S * RATE
        X.append(np.stack([samples[i : i + WINDOW_S * RATE] for i in first]))
        middle = (first + OVERLAP_S * RATE) // (WINDOW_S * RATE)
        Y += list(recording["annotation"][middle])
        T += list(recording["start"][0] + pd.to_timedelta(first / RATE, "s"))
        P += [participant] * OVERLAPPING
    np.save(processed / "X.npy", np.concatenate(X))
    np.save(processed / "Y.npy", np.asarray(Y))
    np.save(processed / "T.npy", np.asarray(T, dtype="datetime64[ns]"))
    np.save(processed / "pid.npy", np.asarray(P))
    config = pointed(readme_configs()[1], processed, dataset["mine"] / DICTIONARY)
    config["windows"] = {"step_s": OVERLAP_S}
    for participant in FEW[:2]:
        shutil.copy(dataset["mine"] / f"{participant}.csv.gz", recordings)
    predict = {"recordings": str(recordings), "unit": "g", "model": "cnn/hmm"}
    # One epoch: what is checked is where windows start and what they count, not accuracy.
    train = CNN_ONLY["train"] | {"max_epochs": 1, "patience": 1}
    folder = workflow(tmp_path / "run", config, CNN_ONLY | {"predict": predict, "train": train})
    smoothed = "results/cnn/hmm/predictions.parquet"
    result = run_mine(folder, "--cores", "2", "results/qc.csv", smoothed, "predict")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    qc = pd.read_csv(folder / "results" / "qc.csv")
    assert (qc.windows_kept == OVERLAPPING).all() and (qc.dropped_nan == 0).all()
    # The time the windows cover, 40 minutes, not 159 windows of 30 s.
    assert qc.hours_recorded.tolist() == [round(ANNOTATED * WINDOW_S / 3600, 3)] * len(FEW)
    store = xr.open_zarr(folder / "results" / "windows" / "subj01.zarr")
    assert (store.attrs["window_length_s"], store.attrs["window_step_s"]) == (WINDOW_S, OVERLAP_S)
    saved = json.loads((folder / "results" / "cnn" / "hmm" / "hmm.json").read_text())
    assert (saved["window_length_s"], saved["window_step_s"]) == (WINDOW_S, OVERLAP_S)
    checkpoint = torch.load(folder / "results" / "cnn" / "model.pt", weights_only=True)
    assert checkpoint["spectrogram"]["window_step_s"] == OVERLAP_S
    table = pd.read_parquet(folder / smoothed)
    assert table.groupby("participant").size().eq(OVERLAPPING).all()

    results = folder / "results" / "predict"
    predicted = pd.read_parquet(results / "subj01.parquet")
    assert len(predicted) == PREDICTED_S // OVERLAP_S and predicted.smoothed.notna().all()
    assert (np.diff(predicted.window_start) == np.timedelta64(OVERLAP_S, "s")).all()
    # Each recording's hours: its windows' steps, within the 42 minutes recorded, not twice that.
    summary = pd.read_csv(results / "summary.csv")
    worn = summary.filter(like="hours_").drop(columns="hours_no_data").sum(axis=1)
    np.testing.assert_allclose(worn, PREDICTED_S / 3600)
    assert sorted(summary.recording) == FEW[:2]
