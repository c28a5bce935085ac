"""Device files (.cwa, .gt3x, .bin, each also gzipped) read by actfast wherever a CSV goes: their
times from the block timestamps, resampled, calibrated, annotated by annotations.csv, and the
sentences for files that cannot be used. The files are made by spectrohar.sources.writers."""

import dataclasses
import gzip
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import snakemake, workflow_folder
from scipy.spatial.transform import Rotation
from test_windows import WINDOWS

from spectrohar import settings
from spectrohar.cache import windows
from spectrohar.cache.windows import Recording, window_recording
from spectrohar.cli import main
from spectrohar.errors import DataError
from spectrohar.sources import capture24
from spectrohar.sources.devices import block_times
from spectrohar.sources.recordings import read_file
from spectrohar.sources.writers import write_bin, write_cwa, write_gt3x

START = np.datetime64("2024-03-01T10:00:00", "ns")
WRITERS = {".cwa": write_cwa, ".bin": write_bin, ".gt3x": write_gt3x}
MINUTE = "2024-03-01 10:00:00,2024-03-01 10:01:00"  # an interval's start and end
SOURCE = {"kind": "capture24", "participants": [], "on_error": "stop", "calibrate": "auto"}


def times(seconds, rate=100.0):
    """Sample times from START at `rate` (the device's true rate)."""
    n = round(seconds * rate)
    return START + np.round(np.arange(n) * 1e9 / rate).astype("timedelta64[ns]")


def swinging(time, rng):
    """Gravity on z and a 2 Hz swing on x, in g, with 3 mg of noise."""
    seconds = (time - START) / np.timedelta64(1, "s")
    acceleration = np.zeros((len(time), 3)) + [0.0, 0.0, 1.0]
    acceleration[:, 0] += 0.3 * np.sin(2 * np.pi * 2 * seconds)
    return acceleration + rng.normal(0, 0.003, acceleration.shape)


def still_postures(rng, n_postures=150, seconds=20, rate=100):
    """Gravity in `n_postures` random orientations held `seconds` each (covering the sphere),
    with 3 mg of noise."""
    gravity = Rotation.random(n_postures, random_state=1).apply([0.0, 0.0, 1.0])
    acceleration = np.repeat(gravity, seconds * rate, axis=0)
    return acceleration + rng.normal(0, 0.003, acceleration.shape)


def read(path, max_gap_s=1.0):
    return read_file(path, None, max_gap_s)


@pytest.mark.parametrize("name", ["r.cwa", "r.cwa.gz", "r.bin", "r.bin.gz", "r.gt3x"])
def test_each_format_is_read_with_its_device(tmp_path, rng, name):
    suffix = "." + name.split(".")[1]
    time = times(120)
    acceleration = swinging(time, rng)
    plain = tmp_path / f"plain{suffix}"
    keywords = {"temperature": np.full(len(time), 24.5)} if suffix != ".gt3x" else {}
    WRITERS[suffix](plain, time, acceleration, sample_rate=100, **keywords)
    path = tmp_path / name
    if name.endswith(".gz"):
        with open(plain, "rb") as source, gzip.open(path, "wb") as target:
            shutil.copyfileobj(source, target)
    else:
        plain.rename(path)
    recording = read(path)
    # The formats keep time to 15 us (.cwa), 1 ms (.bin) or 1 s (.gt3x; START is whole).
    np.testing.assert_allclose(
        (recording.time - time) / np.timedelta64(1, "ms"), 0, atol=1 if suffix == ".bin" else 0.1
    )
    np.testing.assert_allclose(recording.acceleration, acceleration, atol=1 / 256)
    assert recording.annotation.isna().all()
    device = recording.device
    assert (
        device["device_format"]
        == {
            ".cwa": "Axivity CWA",
            ".bin": "GeneActiv BIN",
            ".gt3x": "Actigraph GT3X",
        }[suffix]
    )
    assert device["device_sample_rate_hz"] == 100 and device["device_range_g"] == 8
    assert device["device_first_sample"] == "2024-03-01 10:00:00"
    assert device["device_problems"] == []
    if suffix == ".gt3x":
        assert recording.temperature is None
    else:
        np.testing.assert_allclose(recording.temperature, 24.5, atol=0.2)


def test_a_wandering_rate_is_timed_by_its_blocks_and_resampled(tmp_path, rng):
    # An AX3 set to 100 Hz that delivers 97 Hz: 80-sample sectors each 0.825 s long.
    time = times(300, rate=97)
    acceleration = swinging(time, rng)
    write_cwa(tmp_path / "r.cwa", time, acceleration, sample_rate=100)
    recording = read(tmp_path / "r.cwa")
    last_sector = len(time) - (len(time) % 80 or 80)
    error_ms = (recording.time - time)[:last_sector] / np.timedelta64(1, "ms")
    assert np.abs(error_ms).max() < 0.1  # the sector timestamps' resolution
    ds = window_recording("r.cwa", recording, WINDOWS, calibrate="off")
    assert ds.attrs["resampled"] and ds.attrs["recorded_sample_rate"] == pytest.approx(97, 0.01)
    assert ds.sizes["window"] == 9 and ds.attrs["windows_dropped"]["incomplete"] == 1
    grid = ds.window_start.values[:, None] + np.arange(3000) * np.timedelta64(10, "ms")
    expected = 0.3 * np.sin(2 * np.pi * 2 * (grid - START) / np.timedelta64(1, "s"))
    np.testing.assert_allclose(ds.acceleration.values[..., 0], expected, atol=0.02)


def test_a_gap_over_max_gap_is_missing_and_a_shorter_one_is_bridged(tmp_path, rng):
    # 0.5 s missing in the first window, 5 s in the third.
    time = times(120)
    keep = ((time - START) < np.timedelta64(10, "s")) | (
        (time - START) >= np.timedelta64(10500, "ms")
    )
    keep &= ((time - START) < np.timedelta64(70, "s")) | ((time - START) >= np.timedelta64(75, "s"))
    write_cwa(tmp_path / "r.cwa", time[keep], swinging(time[keep], rng), sample_rate=100)
    ds = window_recording("r.cwa", read(tmp_path / "r.cwa"), WINDOWS, calibrate="off")
    assert list(ds.window_start.values) == [START + np.timedelta64(s, "s") for s in (0, 30, 90)]
    assert ds.attrs["windows_dropped"] == {"incomplete": 1, "nan": 0, "infinite": 0}
    shorter = window_recording(
        "r.cwa",
        read(tmp_path / "r.cwa", 0.2),
        dataclasses.replace(WINDOWS, max_gap_s=0.2),
        calibrate="off",
    )
    assert shorter.sizes["window"] == 2


def test_block_times_spread_each_block_to_the_next_and_keep_gaps():
    nominal = np.arange(4) * 10_000_000  # 4 samples a block at 100 Hz
    blocks = [0, 38_000_000, 2_000_000_000]  # a slow device, then a gap of ~2 s
    time = np.concatenate([start + nominal for start in blocks]).view("datetime64[ns]")
    spread = block_times(time, 100, max_gap_s=1).view("int64")
    np.testing.assert_array_equal(spread[:4], np.arange(4) * 9_500_000)
    np.testing.assert_array_equal(spread[4:], time.view("int64")[4:])


def test_calibration_recovers_a_known_offset_and_scale(tmp_path, rng):
    true = still_postures(rng)
    offset, scale = np.array([0.04, -0.03, 0.02]), np.array([1.02, 0.985, 1.01])
    time = times(len(true) / 100)
    write_cwa(tmp_path / "r.cwa", time, (true - offset) / scale, sample_rate=100)
    recording = read(tmp_path / "r.cwa")
    ds = window_recording("r.cwa", recording, WINDOWS, calibrate="auto")
    attrs = ds.attrs
    assert attrs["calibration_applied"], attrs["calibration_reason"]
    np.testing.assert_allclose(attrs["calibration_offset_g"], offset, atol=0.001)
    np.testing.assert_allclose(attrs["calibration_scale"], scale, rtol=0.005)
    assert attrs["calibration_error_before_mg"] > 10 > 1 > attrs["calibration_error_after_mg"]
    assert attrs["calibration_stationary_windows"] >= 0.9 * len(true) / 1000
    magnitude = np.linalg.norm(ds.acceleration.values, axis=-1)
    assert np.abs(np.median(magnitude, axis=1) - 1).max() < 0.01
    # off: as read, and saying so; a CSV recording is calibrated only when asked.
    off = window_recording("r.cwa", recording, WINDOWS, calibrate="off").attrs
    assert not off["calibration_applied"] and off["calibration_reason"] == "off: calibrate is off"
    csv = Recording(recording.time, recording.acceleration, recording.annotation)
    csv_auto = window_recording("r.csv", csv, WINDOWS, calibrate="auto").attrs
    assert csv_auto["calibration_reason"].startswith("off: a CSV recording")
    assert window_recording("r.csv", csv, WINDOWS, calibrate=True).attrs["calibration_applied"]


def write_folder(folder, rng, names=("a", "b")):
    """Two .cwa recordings of 2 minutes in `folder`."""
    folder.mkdir(exist_ok=True)
    time = times(120)
    for name in names:
        write_cwa(folder / f"{name}.cwa", time, swinging(time, rng), sample_rate=100)
    return folder


def table(folder, text):
    (folder / "annotations.csv").write_text("recording,start,end,annotation\n" + text)


def folder_settings(folder):
    return dataclasses.replace(
        settings.Settings(
            **{name: settings.section(name, value) for name, value in settings.DEFAULTS.items()}
        ),
        source=settings.section("source", {**SOURCE, "path": str(folder)}),
    )


def test_the_window_store_and_inspect_describe_the_device(tmp_path, rng, capsys):
    folder = write_folder(tmp_path / "study", rng, names=("a",))
    found = folder_settings(folder)
    store = tmp_path / "a.zarr"
    windows.build(
        capture24.inputs(found, "a"),
        store,
        "a",
        read=capture24.read,
        source=found.source,
        windows=WINDOWS,
    )
    main(["inspect", str(store)])
    out = capsys.readouterr().out
    for line in (
        'device_format: "Axivity CWA"',
        'device_serial: "12345"',
        "device_sample_rate_hz: 100.0",
        "device_range_g: 8.0",
        'device_first_sample: "2024-03-01 10:00:00"',
        "calibration_applied: false",
        "calibration_reason: ",
    ):
        assert f"\n  {line}" in out


def test_a_folder_of_device_files_is_annotated_by_its_table(tmp_path, rng):
    folder = write_folder(tmp_path / "study", rng)
    table(folder, "a,2024-03-01 10:00:00,2024-03-01 10:00:40,7030 sleeping;MET 0.95\n")
    found = folder_settings(folder)
    assert capture24.participants(found) == ["a", "b"]
    inputs = capture24.inputs(found, "a")
    assert inputs == {"recording": f"{folder}/a.cwa", "annotations": f"{folder}/annotations.csv"}
    ds = capture24.read(inputs, "a", source=found.source, windows=WINDOWS)
    assert ds.annotation.values.tolist() == ["7030 sleeping;MET 0.95", "", "", ""]
    unannotated = capture24.read(
        capture24.inputs(found, "b"), "b", source=found.source, windows=WINDOWS
    )
    assert (unannotated.annotation.values == "").all()


@pytest.mark.parametrize(
    ("rows", "sentence"),
    [
        (
            f"a,{MINUTE},x\nc,{MINUTE},x\n",
            r"annotations.csv: line 3: recording 'c' is not in the folder, which has 2: 'a', 'b'$",
        ),
        (
            f"a,{MINUTE},x\nb,{MINUTE},x\na,2024-03-01 10:00:30,2024-03-01 10:01:30,y\n",
            r"annotations.csv: lines 2 and 4: two intervals of recording 'a' overlap",
        ),
    ],
)
def test_an_annotation_table_that_does_not_fit_the_folder_stops_the_listing(
    tmp_path, rng, rows, sentence
):
    folder = write_folder(tmp_path / "study", rng)
    table(folder, rows)
    with pytest.raises(DataError, match=sentence):
        capture24.participants(folder_settings(folder))


def test_a_csv_annotated_in_its_file_and_in_the_table_stops(tmp_path, rng):
    folder = write_folder(tmp_path / "study", rng, names=("a",))
    pd.DataFrame(
        {"time": times(120), "x": 0.0, "y": 0.0, "z": 1.0, "annotation": "walking"}
    ).to_csv(folder / "c.csv", index=False)
    table(folder, "c,2024-03-01 10:00:00,2024-03-01 10:00:45,x\n")
    with pytest.raises(DataError, match=r"c.csv: has an annotation column of its own and rows in"):
        read_file(folder / "c.csv", folder / "annotations.csv", 1)


def corrupt_sector(path):
    """Flip a byte inside the third data sector (after the 1024-byte header)."""
    data = bytearray(path.read_bytes())
    data[1024 + 2 * 512 + 100] ^= 0xFF
    path.write_bytes(bytes(data))


def cut_short(path):
    path.write_bytes(path.read_bytes()[: 1024 + 30 * 512 + 200])


@pytest.mark.parametrize(
    ("damage", "problem", "samples"),
    [
        (corrupt_sector, "sector 2 (byte offset 2048) failed checksum", 6000 - 80),
        (
            cut_short,
            "the file ends 200 bytes into a 512-byte sector (cut short): that sector's samples "
            "are lost",
            30 * 80,
        ),
    ],
)
def test_what_a_damaged_file_loses_is_reported_and_the_rest_read(
    tmp_path, rng, damage, problem, samples
):
    time = times(60)
    write_cwa(tmp_path / "r.cwa", time, swinging(time, rng), sample_rate=100)
    damage(tmp_path / "r.cwa")
    recording = read(tmp_path / "r.cwa")
    assert recording.device["device_problems"] == [problem]
    assert len(recording.time) == samples
    ds = window_recording("r.cwa", recording, WINDOWS, calibrate="off")
    assert ds.attrs["device_problems"] == [problem]


def header_only(path, rng):
    write_cwa(path, times(5), swinging(times(5), rng))
    path.write_bytes(path.read_bytes()[:1024])


def gt3x_named_cwa(path, rng):
    write_gt3x(path.with_suffix(".gt3x"), times(10), swinging(times(10), rng))
    path.with_suffix(".gt3x").rename(path)


@pytest.mark.parametrize(
    ("name", "make", "sentence"),
    [
        (
            "r.cwa",
            gt3x_named_cwa,
            r"r.cwa: is named .cwa but holds Actigraph GT3X data \(rename it to its format's "
            r"suffix, .gt3x\)$",
        ),
        (
            "r.bin",
            lambda path, rng: path.write_text("time,x,y,z\n2024-03-01 10:00:00,0,0,1\n"),
            r"r.bin: cannot be read as GeneActiv BIN data \(Unknown file format",
        ),
        (
            "r.gt3x",
            lambda path, rng: path.write_bytes(b""),
            r"r.gt3x: is empty \(Actigraph GT3X data holds a header and samples\)$",
        ),
        (
            "r.cwa",
            header_only,
            r"r.cwa: holds no samples \(Axivity CWA data with a header only\)$",
        ),
        (
            "r.cwa",
            lambda path, rng: write_cwa(path, times(5), swinging(times(5), rng), range_g=2),
            r"r.cwa: the device was set to a range of ±2 g, which clips wrist movement \(at least "
            r"±4 g is needed\)$",
        ),
        (
            "r.cwa.gz",
            lambda path, rng: path.write_bytes(b"MD not gzip"),
            r"r.cwa.gz: is named .gz but cannot be decompressed",
        ),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_in_one_sentence(tmp_path, rng, name, make, sentence):
    make(tmp_path / name, rng)
    with pytest.raises(DataError, match=sentence):
        read(tmp_path / name)


@pytest.mark.slow
def test_the_synthetic_cohort_as_cwa_files_runs_through_the_windows_stage(tmp_path):
    synthetic = {"participants": 3, "hours": 0.5, "seed": 3, "format": "cwa"}
    folder = workflow_folder(tmp_path, synthetic=synthetic)
    result = snakemake(folder, "--cores", "2", "results/qc.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    made = sorted(path.name for path in (folder / "resources" / "synthetic").iterdir())
    assert made == [
        "P001.cwa",
        "P076.cwa",
        "P151.cwa",
        "annotation-label-dictionary.csv",
        "annotations.csv",
        "metadata.csv",
    ]
    qc = pd.read_csv(folder / "results" / "qc.csv", dtype={"device_serial": str})
    assert qc.device_format.eq("Axivity CWA").all() and qc.device_serial.tolist() == [
        "1",
        "76",
        "151",
    ]
    assert qc.calibration_reason.str.match(r"(not )?applied: ").all()
    assert (qc.windows_kept >= 55).all() and (qc.windows_kept - qc.unannotated).sum() > 60
    assert qc.filter(like="label_").to_numpy().sum() == (qc.windows_kept - qc.unannotated).sum()
