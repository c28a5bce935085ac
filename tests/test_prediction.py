"""A trained model on new recordings: `snakemake predict` and `spectrohar predict`.

The quick tests use a network trained for an epoch by the train rule's code on spectrogram stores
of settings of their own (10 s windows at 50 Hz, a 60-sample STFT, labels under Walmsley2020),
so that what is read from the model file shows.
The workflow tests train test_workflow's small models once and predict a two-day, 80 Hz
recording without annotations and an annotated synthetic one."""

import json
import re
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.signal
import torch
import yaml
from conftest import REPO, SMALL, made_once, snakemake
from sklearn.metrics import cohen_kappa_score
from test_own_data import write_csv
from test_train import TRAINING
from test_workflow import TEST

from spectrohar import settings
from spectrohar.cache import windows
from spectrohar.cache.features import FEATURES, window_features
from spectrohar.cache.layout import feature_dataset, spectrogram_dataset
from spectrohar.cache.stores import write_dataset
from spectrohar.cli import main
from spectrohar.errors import DataError
from spectrohar.models import cnn, forest
from spectrohar.models.forest import load_forest
from spectrohar.models.network import CNN
from spectrohar.prediction import predict
from spectrohar.prediction.nonwear import NonWearRule
from spectrohar.settings import Synthetic, Windows
from spectrohar.sources import capture24, synthetic
from spectrohar.sources.labels import PACKAGED_DICTIONARY, read_dictionary
from spectrohar.sources.recordings import read_pieces

SLEEP = "7030 sleeping;MET 0.95"
WALK = (
    "home activity;miscellaneous;walking;17150 walking household without observable loads;MET 2.0"
)
CLASSES = ["light", "sleep"]  # WALK's and SLEEP's labels under Walmsley2020
NOT_A_RECORDING = (
    "not a recording file (<name> and one of .csv.gz, .csv, .cwa.gz, .cwa, .gt3x.gz, .gt3x, "
    ".bin.gz, .bin)"
)
SOURCE = {
    "kind": "capture24",
    "path": "-",
    "participants": [],
    "on_error": "stop",
    "calibrate": "auto",
}
STFT = {"n_fft": 60, "hop_length": 24, "window": "hann", "channels": ["x", "y", "z"]}
RATE, WINDOW_S = 50, 10  # the model's windows


LABELS = {"scheme": "Walmsley2020", "dictionary": None, "unknown": "error"}
PARTICIPANTS = {"P001": "train", "P002": "validation"}


def stores_of(folder, dataset, step_s=WINDOW_S) -> tuple[list, Path]:
    """A store per participant of PARTICIPANTS, `dataset(participant, window_start, annotation)`
    for its 16 windows (SLEEP and WALK in turn) `step_s` apart, and their split table."""
    stores = []
    for hour, participant in enumerate(PARTICIPANTS):
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=hour)
        starts = pd.date_range(start, periods=16, freq=f"{step_s}s")
        write_dataset(
            dataset([participant] * 16, starts, [SLEEP, WALK] * 8), folder / f"{participant}.zarr"
        )
        stores.append(folder / f"{participant}.zarr")
    split = folder / "split.csv"
    split.write_text("participant,set\n" + "".join(f"{p},{s}\n" for p, s in PARTICIPANTS.items()))
    return stores, split


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """A width-4 CNN trained for an epoch as the train rule trains one, on a training and a
    validation participant's stores of those settings: its model file, and the network read
    back from the file's weights."""
    folder = tmp_path_factory.mktemp("network")
    rng = np.random.default_rng(0)
    frames = 1 + (WINDOW_S * RATE - STFT["n_fft"]) // STFT["hop_length"]

    def dataset(participant, window_start, annotation):
        x = rng.normal(-6, 1, (16, 3, STFT["n_fft"] // 2 + 1, frames)).astype(np.float32)
        return spectrogram_dataset(
            x,
            participant=participant,
            window_start=window_start,
            annotation=annotation,
            sample_rate=RATE,
            window_length_s=WINDOW_S,
            window_step_s=WINDOW_S,
            dtype="float32",
            **STFT,
        )

    stores, split = stores_of(folder, dataset)
    train = {**TRAINING, "max_epochs": 1}
    path = folder / "model.pt"
    cnn.fit(
        stores,
        split,
        PACKAGED_DICTIONARY,
        path,
        folder / "history.csv",
        memory_mb=0,
        threads=1,
        **settings.sections({"cnn": {"width": 4}, "train": train, "labels": LABELS}),
    )
    saved = torch.load(path, weights_only=True)
    assert saved["classes"] == CLASSES
    model = CNN(len(CLASSES), 3, width=4)
    model.load_state_dict(saved["weights"])
    return path, model.eval()


def moving(seconds, rate, rng):
    """Wrist acceleration (g): gravity on z, a 2 Hz swing on every axis, noise."""
    t = np.arange(round(seconds * rate)) / rate
    swing = 0.3 * np.sin(2 * np.pi * 2 * t + rng.uniform(0, 2 * np.pi, (3, 1))).T
    return swing + [0, 0, 1] + rng.normal(0, 0.02, (len(t), 3))


def predict_cli(recordings, model, output, *extra):
    """`spectrohar predict`, stopping at the first recording that fails (its sentence the last
    line on stderr)."""
    arguments = [*recordings, "--model", model, "--output", output, "--on-error", "stop", *extra]
    main(["predict", *map(str, arguments)])
    return output


def test_each_window_is_predicted_from_the_stft_the_model_file_names(tmp_path, network, rng):
    path, model = network
    acceleration = moving(95, RATE, rng).round(4)  # 9 complete 10 s windows, 5 s left over
    dictionary = read_dictionary(PACKAGED_DICTIONARY)
    annotations = dictionary.index[:2]  # the first window of one, the rest of the other
    annotation = np.where(np.arange(len(acceleration)) < WINDOW_S * RATE, *annotations)
    write_csv(tmp_path / "wrist.csv", "2024-03-01 10:00", acceleration, annotation, rate=RATE)
    out = predict_cli([tmp_path / "wrist.csv"], path, tmp_path / "out")
    table = pd.read_parquet(out / "wrist.parquet")

    starts = pd.date_range("2024-03-01 10:00", periods=9, freq=f"{WINDOW_S}s")
    np.testing.assert_array_equal(table.window_start, starts)
    # scipy's own STFT of each window, scaled by 1/sum(window), without padding.
    windows = acceleration[: 9 * WINDOW_S * RATE].reshape(9, WINDOW_S * RATE, 3).transpose(0, 2, 1)
    _, _, stft = scipy.signal.stft(
        windows.astype(np.float32),
        window="hann",
        nperseg=60,
        noverlap=60 - 24,
        boundary=None,
        padded=False,
    )
    with torch.no_grad():
        expected = model(torch.from_numpy(np.log(np.abs(stft) + 1e-16).astype(np.float32)))
    probabilities = table[[f"probability_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(probabilities, expected.softmax(1).numpy(), rtol=1e-4, atol=1e-6)
    assert (table.predicted == np.array(CLASSES)[probabilities.argmax(1)]).all()
    assert "smoothed" not in table and not table.non_wear.any()  # 95 s: no hour to judge
    labels = dictionary["label:Walmsley2020"][annotations].tolist()
    assert table.label.tolist() == labels[:1] + labels[1:] * 8
    metrics = json.loads((out / "metrics.json").read_text())["wrist"]
    assert metrics["n_windows"] == 9
    assert metrics["kappa"] == pytest.approx(cohen_kappa_score(table.label, table.predicted))


def fit_forest(folder, rng, step_s=WINDOW_S) -> Path:
    """A forest fitted as the train rule fits one, on feature stores of windows `step_s` apart:
    its model file."""

    def dataset(participant, window_start, annotation):
        features = rng.normal(size=(16, len(FEATURES))).astype(np.float32)
        return feature_dataset(
            features,
            list(FEATURES),
            participant=participant,
            window_start=window_start,
            annotation=annotation,
            sample_rate=RATE,
            window_length_s=WINDOW_S,
            window_step_s=step_s,
        )

    stores, split = stores_of(folder, dataset, step_s)
    options = {"n_estimators": 5, "min_samples_leaf": [1], "max_features": "sqrt"}
    options |= {"max_samples": None, "class_weight": "none", "seed": 0}
    path = folder / "model.skops"
    forest.fit(
        stores,
        split,
        PACKAGED_DICTIONARY,
        path,
        folder / "history.csv",
        memory_mb=0,
        threads=1,
        **settings.sections({"forest": options, "labels": LABELS}),
    )
    return path


def test_a_forest_predicts_from_the_features_of_the_windows_its_file_names(tmp_path, rng):
    path = fit_forest(tmp_path, rng)
    fitted = load_forest(path, 1)["model"]
    assert fitted.classes_.tolist() == CLASSES
    acceleration = moving(95, RATE, rng).round(4)
    write_csv(tmp_path / "wrist.csv", "2024-03-01 10:00", acceleration, rate=RATE)
    table = pd.read_parquet(predict_cli([tmp_path / "wrist.csv"], path, tmp_path) / "wrist.parquet")
    windows = acceleration[: 9 * WINDOW_S * RATE].reshape(9, WINDOW_S * RATE, 3)
    expected = fitted.predict_proba(window_features(windows.astype(np.float32), RATE))
    probabilities = table[[f"probability_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_array_equal(probabilities, expected)
    assert len(table) == 9 and table.label.isna().all()


def test_a_model_of_overlapping_windows_predicts_windows_its_step_apart(tmp_path, rng):
    # 10 s windows every 5 s. 95 s: starts 0, 5, ..., 85 s; the one at 90 s is incomplete.
    path = fit_forest(tmp_path, rng, step_s=5)
    acceleration = moving(95, RATE, rng).round(4)
    write_csv(tmp_path / "wrist.csv", "2024-03-01 10:00", acceleration, rate=RATE)
    out = predict_cli([tmp_path / "wrist.csv"], path, tmp_path / "out")
    table = pd.read_parquet(out / "wrist.parquet")
    np.testing.assert_array_equal(
        table.window_start, pd.date_range("2024-03-01 10:00", periods=18, freq="5s")
    )
    assert (table.attrs["window_length_s"], table.attrs["window_step_s"]) == (WINDOW_S, 5)
    windows = np.stack([acceleration[i * 250 : i * 250 + 500] for i in range(18)])
    expected = load_forest(path, 1)["model"].predict_proba(
        window_features(windows.astype(np.float32), RATE)
    )
    probabilities = table[[f"probability_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_array_equal(probabilities, expected)
    # Each window stands for its 5 s step: 90 s in all, not 18 windows' 180 s.
    day = pd.read_csv(out / "summary.csv")
    hours = day[[f"hours_{c}" for c in CLASSES]].to_numpy().sum()
    assert hours == pytest.approx(90 / 3600)
    assert day.hours_no_data.iloc[0] == pytest.approx(24 - 90 / 3600)


def last_line(capsys) -> str:
    """The last line on stderr, after the progress bar's."""
    return capsys.readouterr().err.splitlines()[-1]


def windows_stage_error(path) -> str:
    """The windows stage's sentence for the recording at `path` (100 Hz windows, resampled)."""
    with pytest.raises(DataError) as error:
        capture24.read(
            {"recording": str(path)},
            "p",
            source=settings.section("source", SOURCE),
            windows=Windows(
                length_s=30, step_s=None, sample_rate=100, resample=True, unit="g", max_gap_s=1
            ),
        )
    return str(error.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("time,x,y\n2024-03-01 10:00:00.000,0,0,1\n", "no column 'z' in the header"),
        (
            "time,x,y,z\n2024-03-01 10:00:00.000,0,0,1\n2024-03-01 09:59:59.980,0,0,1\n"
            "2024-03-01 10:00:00.020,0,0,1\n",
            "timestamp 2024-03-01T09:59:59.980000000 is before the one before",
        ),
        ("time,x,y,z\n2024-03-01 10:00:00.000,0,0,1\n", "has 1 rows, too few"),
    ],
)
def test_bad_input_gets_the_windows_stage_sentence(tmp_path, network, capsys, text, reason):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    expected = windows_stage_error(bad)
    assert expected.startswith(f"{bad}: ") and reason in expected
    with pytest.raises(SystemExit) as stopped:
        predict_cli([bad], network[0], tmp_path / "out")
    assert stopped.value.code == 1
    assert last_line(capsys) == f"spectrohar: {expected}"


def test_a_recording_the_model_cannot_take_is_refused_naming_it(tmp_path, network, rng, capsys):
    short = tmp_path / "short.csv.gz"
    write_csv(short, "2024-03-01 10:00", moving(8, RATE, rng), rate=RATE)  # under one window
    with pytest.raises(SystemExit):
        predict_cli([short], network[0], tmp_path / "out")
    sentence = (
        f"{short}: has no complete 10 s window of finite samples, the windows that the model in "
        f"{network[0]} takes"
    )
    assert last_line(capsys) == f"spectrohar: {sentence}"
    # Skipped (the default), it is listed with its reason and the other recording predicted.
    good = tmp_path / "good.csv.gz"
    write_csv(good, "2024-03-01 10:00", moving(60, RATE, rng), rate=RATE)
    out = tmp_path / "skipped"
    with pytest.raises(SystemExit) as stopped:
        main(["predict", str(short), str(good), "--model", str(network[0]), "--output", str(out)])
    assert stopped.value.code == 1
    assert last_line(capsys) == f"spectrohar: 1 of 2 recordings failed: see {out / 'failures.csv'}"
    failures = pd.read_csv(out / "failures.csv")
    assert failures.to_dict("records") == [
        {"recording": "short", "file": str(short), "reason": sentence}
    ]
    assert pd.read_csv(out / "summary.csv").recording.unique().tolist() == ["good"]
    cohort = pd.read_csv(out / "cohort.csv", keep_default_na=False)
    assert cohort.failure.tolist() == [sentence, ""]
    notes = tmp_path / "notes.txt"
    with pytest.raises(SystemExit):
        predict_cli([notes], network[0], tmp_path / "out")
    assert last_line(capsys) == (
        f"spectrohar: {notes}: is no recording file (<name> and one of .csv.gz, .csv, .cwa.gz, "
        ".cwa, .gt3x.gz, .gt3x, .bin.gz, .bin)"
    )
    hmm = tmp_path / "hmm.json"
    three = ["sleep", "sitting", "walking"]
    uniform = (np.ones((3, 3)) / 3).tolist()
    hmm.write_text(
        json.dumps(
            {"classes": three, "window_length_s": 30, "window_step_s": 30, "start": [1 / 3] * 3}
            | {"transition": uniform, "emission": uniform}
        )
    )
    with pytest.raises(SystemExit):
        predict_cli([short], network[0], tmp_path / "out", "--hmm", str(hmm))
    assert last_line(capsys) == (
        f"spectrohar: {hmm}: is an HMM over the classes sleep, sitting, walking of 30 s windows "
        f"every 30 s, not over those of the model in {network[0]} (light, sleep of 10 s windows "
        "every 10 s)"
    )


def test_a_25_hz_recording_keeps_its_last_window_and_says_it_was_resampled(tmp_path, network, rng):
    slow = tmp_path / "slow.csv"
    write_csv(slow, "2024-03-01 10:00", moving(90, 25, rng).round(4), rate=25)  # 9 windows
    out = predict_cli([slow], network[0], tmp_path / "out")
    table = pd.read_parquet(out / "slow.parquet")
    assert len(table) == 9
    assert table.attrs["recorded_sample_rate"] == pytest.approx(25)
    assert table.attrs["resampled"] and table.attrs["sample_rate"] == RATE
    page = (out / "pages" / "slow.html").read_text()
    assert (
        "recorded at 25 Hz, resampled to the model's 50 Hz; calibration off: a CSV recording "
        "(calibrate: auto calibrates device files); 9 windows"
    ) in page
    assert '<a href="pages/slow.html">slow</a>' in (out / "report.html").read_text()


def test_a_unit_hint_names_the_setting_of_its_context(tmp_path, network, rng, capsys):
    milli = tmp_path / "milli.csv"
    write_csv(milli, "2024-03-01 10:00", moving(30, RATE, rng) * 1000, rate=RATE)
    with pytest.raises(SystemExit):
        predict_cli([milli], network[0], tmp_path / "out")
    assert last_line(capsys).endswith("the values look like mg: give --unit mg to convert them")
    # The predict_recording rule's function: the workflow's setting.
    with pytest.raises(DataError, match="look like mg: set predict.unit: mg to convert them$"):
        predict.build(
            milli,
            tmp_path / "milli.parquet",
            model_file=network[0],
            hmm_file=None,
            unit="g",
            calibrate="auto",
            max_gap_s=1,
            timezone=None,
            nonwear=NonWearRule(),
            device="cpu",
            on_error="stop",
        )


def test_files_beside_the_recordings_are_named_with_what_they_are(tmp_path):
    folder = tmp_path / "recordings"
    (folder / "sub").mkdir(parents=True)
    for name in ["a.csv.gz", "b.csv", "c.cwa", "d.bin.gz", "notes.txt", "wrist.cwa.part"]:
        (folder / name).write_text("")
    for name in [".DS_Store", "c.csv.bak", "annotations.csv"]:
        (folder / name).write_text("")
    (folder / "annotation-label-dictionary.csv").write_text("")
    (folder / "metadata.csv").write_text("")
    found = capture24.not_recordings(folder)
    other = NOT_A_RECORDING
    assert found == {
        str(folder / ".DS_Store"): other,
        str(folder / "annotation-label-dictionary.csv"): (
            "the annotation-label dictionary (it labels annotations), no recording"
        ),
        str(folder / "c.csv.bak"): other,
        str(folder / "metadata.csv"): "the metadata table, no recording",
        str(folder / "notes.txt"): other,
        str(folder / "sub"): "a folder: recordings are read from the folder itself, not below",
        str(folder / "wrist.cwa.part"): other,
        str(folder / "annotations.csv"): (
            "the annotation table of the folder's recordings, no recording"
        ),
    }


# London's clocks go from 01:00 to 02:00 on 31 March 2024: a wall clock's half hour either side.
SPRING = [("2024-03-31 00:30", "+00:00"), ("2024-03-31 02:00", "+01:00")]


def spring_recording(path, rng, offsets=False):
    """Half an hour at 50 Hz either side of London's spring clock change, on its wall clock
    (naive times) or with each time's offset."""
    parts = []
    for start, offset in SPRING:
        time = pd.date_range(start, periods=30 * 60 * RATE, freq=f"{1000 // RATE}ms")
        text = time.strftime("%Y-%m-%d %H:%M:%S.%f") + (offset if offsets else "")
        acceleration = moving(30 * 60, RATE, rng).round(4)
        parts.append(pd.DataFrame({"time": text, **dict(zip("xyz", acceleration.T, strict=True))}))
    pd.concat(parts).to_csv(path, index=False)
    return path


def test_a_time_zone_gives_the_day_of_a_clock_change_its_23_hours(tmp_path, network, rng):
    naive = spring_recording(tmp_path / "naive.csv", rng)
    out = predict_cli([naive], network[0], tmp_path / "zone", "--timezone", "Europe/London")
    table, summary = pd.read_parquet(out / "naive.parquet"), pd.read_csv(out / "summary.csv")
    assert str(table.window_start.dt.tz) == "Europe/London"
    assert table.attrs["time_zone"] == "Europe/London"
    assert len(table) == 360 and (table.window_start.diff()[1:] == pd.Timedelta("10s")).all()
    assert table.window_start.iloc[180] == pd.Timestamp("2024-03-31 02:00", tz="Europe/London")
    assert summary.date.tolist() == ["2024-03-31"]
    assert summary.filter(like="hours_").sum(axis=1).tolist() == pytest.approx([23])
    assert summary.hours_no_data.tolist() == pytest.approx([22])
    # Without a zone, times as written: the hour the clock skipped is an hour without data.
    out = predict_cli([naive], network[0], tmp_path / "as_written")
    summary = pd.read_csv(out / "summary.csv")
    assert summary.filter(like="hours_").sum(axis=1).tolist() == pytest.approx([24])
    assert summary.hours_no_data.tolist() == pytest.approx([23])
    # Times with an offset: the same instants, the same table.
    offsets = spring_recording(tmp_path / "offsets.csv", np.random.default_rng(0), offsets=True)
    again = spring_recording(tmp_path / "again.csv", np.random.default_rng(0))
    out = predict_cli(
        [offsets, again], network[0], tmp_path / "both", "--timezone", "Europe/London"
    )
    with_offsets, naive = (pd.read_parquet(out / f"{n}.parquet") for n in ("offsets", "again"))
    pd.testing.assert_frame_equal(with_offsets, naive, check_exact=False, rtol=1e-5)


def test_a_time_the_zones_clock_skips_is_refused(tmp_path, network, rng, capsys):
    skipped = tmp_path / "skipped.csv"
    write_csv(skipped, "2024-03-31 00:59:30", moving(60, RATE, rng), rate=RATE)
    with pytest.raises(SystemExit):
        predict_cli([skipped], network[0], tmp_path / "out", "--timezone", "Europe/London")
    assert last_line(capsys) == (
        f"spectrohar: {skipped}: line {30 * RATE + 2}: 2024-03-31 01:00:00 does not exist in "
        f"Europe/London, whose clocks skip it ({30 * RATE} rows like it): the recording's times "
        "are not on the clock of --timezone"
    )
    with pytest.raises(SystemExit):
        predict_cli([skipped], network[0], tmp_path / "out", "--timezone", "Europe/Lundon")
    assert last_line(capsys) == (
        "spectrohar: --timezone: 'Europe/Lundon' is no IANA time zone (such as Europe/London "
        "or UTC)"
    )


# The workflow: test_workflow's small models, then `snakemake predict` on two recordings.
START = pd.Timestamp("2024-03-01 21:00")  # a Friday evening, to 03:00 on Saturday
HOURS = 6
STILL = (pd.Timestamp("2024-03-01 22:00"), pd.Timestamp("2024-03-02 00:30"))  # on a table
WRIST_RATE = 80


def wrist(path, rng):
    """Six hours at 80 Hz (and the sample that ends the last window), time,x,y,z only: moving
    but for 2.5 h lying still over midnight."""
    acceleration = moving(HOURS * 3600 + 1 / WRIST_RATE, WRIST_RATE, rng)
    time = START + pd.to_timedelta(np.arange(len(acceleration)) / WRIST_RATE, "s")
    still = (time >= STILL[0]) & (time < STILL[1])
    acceleration[still] = [0.05, -0.1, 0.99] + rng.normal(0, 0.002, (still.sum(), 3))
    write_csv(path, START, acceleration.round(4), rate=WRIST_RATE)


@pytest.fixture(scope="module")
def predicted(small_run, tmp_path_factory):
    """A copy of the small run's folder after `snakemake predict` with predict.model best, on
    recordings/: wrist.csv.gz, annotated.csv.gz (a synthetic participant's hour at 100 Hz) and
    device.cwa (that hour as a miscalibrated AX3 at a wandering rate would give it, annotated
    by annotations.csv), beside a partial download and notes, which are not read; its stderr
    in snakemake.stderr."""

    def make(folder):
        folder.rmdir()
        shutil.copytree(small_run, folder, ignore=shutil.ignore_patterns(".snakemake"))
        recordings = folder / "recordings"
        recordings.mkdir()
        wrist(recordings / "wrist.csv.gz", np.random.default_rng(5))
        for name, kind in (("annotated.csv.gz", "csv"), ("device.cwa", "cwa")):
            synthetic.write_recording(
                recordings / name,
                "P999",
                Synthetic(8, 1, 11, kind),
                intervals=recordings / "annotations.csv",
            )
        annotations = pd.read_csv(recordings / "annotations.csv")
        annotations.assign(recording="device").to_csv(recordings / "annotations.csv", index=False)
        (recordings / "wrist.cwa.part").write_bytes(b"MD")
        (recordings / "notes.txt").write_text("wrist: left\n")
        predict = {"recordings": "recordings", "model": "best"}
        config = {**SMALL, "predict": predict}
        (folder / "small.yaml").write_text(yaml.safe_dump(config))
        result = snakemake(folder, "--cores", "2", "predict")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        (folder / "snakemake.stderr").write_text(result.stderr)

    return made_once(tmp_path_factory, "predicted", make)


def outputs(folder):
    table = pd.read_parquet(folder / "wrist.parquet")
    summary = pd.read_csv(folder / "summary.csv", parse_dates=["date"])
    return table, summary


@pytest.mark.slow
def test_every_complete_window_has_a_prediction_and_the_still_stretch_is_non_wear(predicted):
    table, summary = outputs(predicted / "results" / "predict")
    starts = pd.date_range(START, periods=HOURS * 120, freq="30s")
    np.testing.assert_array_equal(table.window_start, starts)
    probabilities = table.filter(like="probability_")
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert table.label.isna().all()
    still = (table.window_start >= STILL[0]) & (table.window_start < STILL[1])
    assert table.non_wear.tolist() == still.tolist()

    wrist = summary[summary.recording == "wrist"]
    assert wrist.date.tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02")]
    hours = wrist.filter(like="hours_")
    np.testing.assert_allclose(hours.sum(axis=1), 24)
    worn = hours.drop(columns=["hours_non_wear", "hours_no_data"]).sum(axis=1)
    np.testing.assert_allclose(worn + wrist.hours_non_wear, [3, 3])  # 21:00-24:00, 00:00-03:00
    np.testing.assert_allclose(wrist.hours_non_wear, [2, 0.5])
    assert not wrist.complete.any()
    cohort = pd.read_csv(predicted / "results" / "predict" / "cohort.csv")
    row = cohort.set_index("recording").loc["wrist"]
    assert row.start == str(START) and (row.days_recorded, row.valid_days) == (2, 0)
    assert (row.hours_worn, row.hours_non_wear) == pytest.approx((3.5, 2.5))
    assert row.filter(regex="^hours_.+_per_").isna().all()  # no valid day


@pytest.mark.slow
def test_an_annotated_recording_is_scored_against_its_labels(predicted):
    results = predicted / "results" / "predict"
    table = pd.read_parquet(results / "annotated.parquet")
    # The tutorial's windows: 30 s from the first sample, the mode of the annotations (NA too).
    samples = pd.read_csv(predicted / "recordings" / "annotated.csv.gz", parse_dates=["time"])
    mode = samples.set_index("time").annotation.resample("30s", origin="start")
    annotation = mode.agg(lambda a: a.mode(dropna=False).iloc[0] if len(a) == 3000 else "cut")
    annotation = annotation[annotation != "cut"]
    np.testing.assert_array_equal(table.window_start, annotation.index)
    scheme = read_dictionary(PACKAGED_DICTIONARY)["label:Willetts2018"]
    expected = [scheme[a] if isinstance(a, str) else "" for a in annotation]
    assert table.label.fillna("").tolist() == expected
    # Smoothed where the run chosen is, and then scored on the smoothed classes.
    run = json.loads((predicted / "results" / "selected.json").read_text())["run"]
    assert ("smoothed" in table) == run.endswith("/hmm")
    state = table["smoothed" if run.endswith("/hmm") else "predicted"]
    labelled = table.label.notna()
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics) == {"annotated", "device"}
    assert metrics["annotated"]["n_windows"] == labelled.sum()
    kappa = cohen_kappa_score(table.label[labelled], state[labelled])
    assert metrics["annotated"]["kappa"] == pytest.approx(kappa)


@pytest.mark.slow
def test_the_page_shows_the_cohort_and_links_a_page_per_recording(predicted):
    results = predicted / "results" / "predict"
    page = (results / "report.html").read_text()
    # The cohort's figure first, and no recording's timeline: light at thousands of recordings.
    assert page.count('src="data:image/png;base64,') == 1
    assert page.index("<h2>Cohort</h2>") < page.index("<h2>Failures</h2>")
    assert page.index("<h2>Failures</h2>") < page.index("<h2>Recordings</h2>")
    assert "van Hees et al. (2013)" in page
    names = ("wrist", "annotated", "device")
    assert sorted(p.name for p in (results / "pages").glob("*.html")) == sorted(
        f"{name}.html" for name in names
    )
    for name in names:
        assert f'<a href="pages/{name}.html">{name}</a>' in page
        own = (results / "pages" / f"{name}.html").read_text()
        assert own.count('src="data:image/png;base64,') == 1 and f"<h1>{name}</h1>" in own
        assert '<a href="../report.html">All recordings</a>' in own
    wrist = (results / "pages" / "wrist.html").read_text()
    assert "2024-03-01" in wrist and "2024-03-02" in wrist


@pytest.mark.slow
def test_a_device_file_is_predicted_with_its_device_and_calibration(predicted):
    results = predicted / "results" / "predict"
    cohort = pd.read_csv(results / "cohort.csv", dtype=str).set_index("recording")
    device = cohort.loc["device"]
    assert (device.device_format, device.device_type, device.device_serial) == (
        "Axivity CWA",
        "AX3",
        "999",
    )
    assert float(device.device_sample_rate_hz) == 100 and float(device.device_range_g) == 8
    assert device.calibration_reason.startswith(("applied", "not applied"))
    assert pd.isna(cohort.loc["wrist", "device_type"])
    assert cohort.loc["wrist", "calibration_reason"].startswith("off: a CSV recording")
    table = pd.read_parquet(results / "device.parquet")
    assert table.attrs["resampled"] and table.attrs["device_serial"] == "999"
    # Labelled from annotations.csv on the device's clock: the hour's labels as the CSV's.
    csv = pd.read_parquet(results / "annotated.parquet")
    shares = [t.label.value_counts(normalize=True) for t in (table, csv)]
    pd.testing.assert_series_equal(*shares, atol=0.05, check_names=False)
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["device"]["n_windows"] == table.label.notna().sum() > 60
    assert (
        "AX3 999 (Axivity CWA, set to 100 Hz and ±8 g)"
        in (results / "pages" / "device.html").read_text()
    )


@pytest.mark.slow
def test_files_that_are_no_recordings_are_named_not_skipped(predicted):
    other = NOT_A_RECORDING
    unread = {
        "recordings/annotations.csv": "the annotation table of the folder's recordings, no "
        "recording",
        "recordings/notes.txt": other,
        "recordings/wrist.cwa.part": other,
    }
    stderr = (predicted / "snakemake.stderr").read_text()
    for path, reason in unread.items():
        assert f"predict.recordings: {path}: not read: {reason}" in stderr  # at parse time
        log = (predicted / "logs" / "predict" / "summary.log").read_text()
        assert f"{path}: not read: {reason}" in log  # in the run
    not_read = pd.read_csv(predicted / "results" / "predict" / "not_read.csv")
    assert dict(zip(not_read.file, not_read.reason, strict=True)) == unread
    page = (predicted / "results" / "predict" / "report.html").read_text()
    assert "<h2>Files not read</h2>" in page and "recordings/wrist.cwa.part" in page


@pytest.mark.slow
def test_the_best_run_is_chosen_on_the_validation_participants(predicted):
    selected = json.loads((predicted / "results" / "selected.json").read_text())
    kappa = {}
    for run in ("cnn/none", "cnn/hmm", "forest/none", "forest/hmm"):
        table = pd.read_parquet(predicted / "results" / run / "predictions.parquet")
        validation = table[table.set == "validation"]
        kappa[run] = cohen_kappa_score(validation.label, validation.predicted)
    assert selected["validation_kappa"] == pytest.approx(kappa)
    assert selected["run"] == max(kappa, key=kappa.get)
    table = pd.read_parquet(predicted / "results" / "predict" / "wrist.parquet")
    assert ("smoothed" in table) == selected["run"].endswith("/hmm")


@pytest.mark.slow
def test_the_command_gives_the_workflows_predictions(predicted, tmp_path):
    assert yaml.safe_load((REPO / "config.yaml").read_text())["nonwear"] == vars(NonWearRule())
    run = json.loads((predicted / "results" / "selected.json").read_text())["run"]
    model, smoothing = run.split("/")
    files = {"cnn": "model.pt", "forest": "model.skops"}
    hmm = (
        ["--hmm", predicted / "results" / model / "hmm" / "hmm.json"] if smoothing == "hmm" else []
    )
    recordings = [predicted / "recordings" / name for name in ("wrist.csv.gz", "device.cwa")]
    out = predict_cli(recordings, predicted / "results" / model / files[model], tmp_path, *hmm)
    table, summary = outputs(out)
    expected, expected_summary = outputs(predicted / "results" / "predict")
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-5)
    # The device file too, calibrated and labelled from the annotation table beside it.
    device, expected_device = (
        pd.read_parquet(folder / "device.parquet")
        for folder in (out, predicted / "results/predict")
    )
    pd.testing.assert_frame_equal(device, expected_device, check_exact=False, rtol=1e-5)
    described = [
        {key: value for key, value in table.attrs.items() if key.startswith(("device_", "calib"))}
        for table in (device, expected_device)
    ]
    assert described[0] == described[1] and described[0]["device_type"] == "AX3"
    expected_summary = expected_summary[expected_summary.recording.isin(["wrist", "device"])]
    pd.testing.assert_frame_equal(
        summary.sort_values("recording", ignore_index=True),
        expected_summary.sort_values("recording", ignore_index=True),
    )
    # The cohort table's rows too, but for where the files were.
    cohorts = [
        pd.read_csv(folder / "cohort.csv").set_index("recording").loc[["wrist", "device"]]
        for folder in (out, predicted / "results" / "predict")
    ]
    pd.testing.assert_frame_equal(
        *(cohort.drop(columns="file") for cohort in cohorts), check_exact=False, rtol=1e-5
    )
    page = (out / "pages" / "wrist.html").read_text()  # as the predict_page rule writes it
    assert "<h1>wrist</h1>" in page and "data:image/png;base64," in page


@pytest.mark.slow
@pytest.mark.parametrize(("model", "file"), [("cnn", "model.pt"), ("forest", "model.skops")])
def test_a_test_participants_recording_gets_its_evaluation_probabilities(
    predicted, tmp_path, model, file
):
    """The model's windows, inputs and labels from its file: the same numbers as evaluation."""
    participant = TEST[0]
    recording = predicted / "resources" / "synthetic" / f"{participant}.csv.gz"
    out = predict_cli([recording], predicted / "results" / model / file, tmp_path)
    table = pd.read_parquet(out / f"{participant}.parquet").set_index("window_start")
    evaluated = pd.read_parquet(predicted / "results" / model / "none" / "predictions.parquet")
    evaluated = evaluated[evaluated.participant == participant].set_index("window_start")
    assert len(evaluated) > 0 and evaluated.index.isin(table.index).all()
    mine = table.loc[evaluated.index]
    assert mine.label.tolist() == evaluated.label.tolist()
    columns = evaluated.filter(like="probability_").columns
    np.testing.assert_allclose(mine[columns], evaluated[columns], rtol=1e-4, atol=1e-6)
    assert table.label.isna().sum() == len(table) - len(evaluated)


@pytest.mark.slow
def test_a_model_file_trains_nothing_and_bad_input_gets_the_windows_stage_sentence(
    predicted, tmp_path, monkeypatch
):
    shutil.copy(REPO / "config.yaml", tmp_path)
    shutil.copy(predicted / "results" / "cnn" / "model.pt", tmp_path / "model.pt")
    predict = {"recordings": "recordings", "model": "model.pt", "on_error": "stop"}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump({"predict": predict}))
    bad = tmp_path / "recordings" / "bad.csv"
    bad.parent.mkdir()
    bad.write_text("time,x,y\n2024-03-01 10:00:00.000,0,0,1\n")
    result = snakemake(tmp_path, "--cores", "1", "predict")
    assert result.returncode != 0
    monkeypatch.chdir(tmp_path)  # the rule names the recording as predict.recordings does
    sentence = windows_stage_error(Path("recordings/bad.csv"))
    assert f"spectrohar: {sentence}\n" in result.stderr

    # Skipped (the default), it is listed with its reason and the other recording predicted.
    shutil.copy(predicted / "recordings" / "wrist.csv.gz", bad.parent)
    (tmp_path / "small.yaml").write_text(
        yaml.safe_dump({"predict": {**predict, "on_error": "skip"}})
    )
    result = snakemake(tmp_path, "--cores", "2", "predict")
    assert result.returncode == 0, result.stderr[-4000:]
    # The run ends saying so, its log's last lines but its path and run time.
    ending = result.stderr.splitlines()[-4:]
    assert "1 of 2 recordings failed: see results/predict/failures.csv" in ending, ending
    results = tmp_path / "results" / "predict"
    failures = pd.read_csv(results / "failures.csv")
    assert failures.to_dict("records") == [
        {"recording": "bad", "file": "recordings/bad.csv", "reason": sentence}
    ]
    assert pd.read_csv(results / "summary.csv").recording.unique().tolist() == ["wrist"]
    assert "1 of 2 recordings failed" in (tmp_path / "logs/predict/summary.log").read_text()
    assert (
        "<h2>Failures</h2>\n<p>1 of 2 recordings could not be predicted"
        in (results / "report.html").read_text()
    )
    assert not (tmp_path / "resources").exists()  # no training data made, nothing trained
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["predict"]
    out = predict_cli([bad.parent / "wrist.csv.gz"], tmp_path / "model.pt", tmp_path / "cli")
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "wrist.parquet"),
        pd.read_parquet(tmp_path / "results" / "predict" / "wrist.parquet"),
        check_exact=False,
        rtol=1e-5,
    )

    # A recording added: only it is predicted, and on SLURM in a batch of recordings.
    shutil.copy(predicted / "recordings" / "device.cwa", bad.parent)
    profile = ["--profile", str(REPO / "workflow/profiles/slurm")]
    planned = snakemake(tmp_path, "--dry-run", *profile, "predict")
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
    assert re.findall(r"wildcards: recording=(\w+)", planned.stdout) == ["device"]
    assert "Group job recordings" in planned.stdout

    named = snakemake(tmp_path, "--dry-run", "predict", "--config", "predict={model: cnn/hmmm}")
    assert named.returncode != 0
    message = "config predict.model: 'cnn/hmmm' is neither best, nor a run"
    assert message in named.stdout + named.stderr  # a dry run logs to stdout


@pytest.mark.slow
def test_a_recording_in_pieces_is_predicted_as_whole(predicted, monkeypatch):
    """Read in pieces of 100,003 rows and cut in pieces of 1,270 s (ends inside windows, inside
    the wrist's still stretch, inside the device's gaps), a recording gets the table it gets
    whole: resampling, calibration, non-wear and the HMM alike."""
    results = predicted / "results"
    model = json.loads((results / "selected.json").read_text())["run"].split("/")[0]
    predictor = predict.load_predictor(
        next((results / model).glob("model.*")), results / model / "hmm" / "hmm.json"
    )
    options = {
        "unit": "g",
        "calibrate": "auto",
        "max_gap_s": 1,
        "nonwear": NonWearRule(),
        "timezone": None,
        "settings": predict.RULE_SETTINGS,
    }
    for name in ("wrist.csv.gz", "device.cwa"):
        path = predicted / "recordings" / name
        whole = predict.predict_recording(path, predictor, **options)
        with monkeypatch.context() as patch:
            patch.setattr(windows, "PIECE_S", 1270)
            patch.setattr(predict, "read_pieces", partial(read_pieces, piece_rows=100_003))
            pieces = predict.predict_recording(path, predictor, **options)
        assert len(whole) > 100 and whole.smoothed.notna().all()
        assert whole.non_wear.any() == (name == "wrist.csv.gz")  # its still stretch
        pd.testing.assert_frame_equal(pieces, whole)
        assert pieces.attrs == whole.attrs
    assert whole.attrs["resampled"]
