import gzip
import importlib.resources
import re

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from spectrohar.settings import Synthetic
from spectrohar.sources import synthetic

DICT_FILE = importlib.resources.files("spectrohar") / "data" / "annotation-label-dictionary.csv"
HOURS = 1.0
PIDS = ["P003", "P050", "P120"]


@pytest.fixture(scope="module")
def dictionary():
    return pd.read_csv(DICT_FILE, dtype=str, keep_default_na=False).set_index("annotation")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("capture24")
    for pid in PIDS:
        synthetic.write_recording(
            out / f"{pid}.csv.gz", pid, Synthetic(len(PIDS), HOURS, seed=7, format="csv")
        )
    return out


@pytest.fixture(scope="module")
def frames(folder):
    return {pid: pd.read_csv(folder / f"{pid}.csv.gz") for pid in PIDS}


@pytest.fixture(scope="module")
def segments(frames, dictionary):
    """Contiguous same-annotation runs as (label column dict, xyz array)."""
    out = []
    for df in frames.values():
        ann = df.annotation.fillna("")
        run = (ann != ann.shift()).cumsum()
        xyz = df[["x", "y", "z"]].to_numpy()
        for _, idx in df.groupby(run).indices.items():
            a = ann.iloc[idx[0]]
            if a:
                out.append((dictionary.loc[a], xyz[idx]))
    return out


def test_participant_ids():
    ids = synthetic.participant_ids(24)
    assert len(ids) == 24 == len(set(ids))
    assert all(re.fullmatch(r"P\d{3}", i) for i in ids)
    assert ids == sorted(ids) and ids[0] == "P001" and ids[-1] == "P151"
    assert 0.25 <= np.mean([int(i[1:]) >= 101 for i in ids]) <= 0.4
    assert synthetic.participant_ids(1) == ["P001"]
    assert synthetic.participant_ids(151) == [f"P{i:03d}" for i in range(1, 152)]


@pytest.mark.parametrize("n", [0, -3, 152])
def test_participant_ids_rejects(n):
    with pytest.raises(ValueError):
        synthetic.participant_ids(n)


def test_raw_text_format(folder):
    with gzip.open(folder / "P003.csv.gz", "rt") as f:
        lines = [f.readline() for _ in range(2000)]
    assert lines[0] == "time,x,y,z,annotation\n"
    row = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6},(-?[\d.e-]+,){3}[^,\"]*\n")
    assert all(row.fullmatch(line) for line in lines[1:])


def test_parses_as_capture24(frames, dictionary):
    for df in frames.values():
        assert list(df.columns) == ["time", "x", "y", "z", "annotation"]
        assert len(df) == round(HOURS * 3600 * 100)
        t = pd.to_datetime(df.time, format="%Y-%m-%d %H:%M:%S.%f")
        assert (t.diff().iloc[1:] == pd.Timedelta("10ms")).all()
        assert 2014 <= t.iloc[0].year <= 2016
        assert df[["x", "y", "z"]].abs().max().max() <= 8
        assert df[["x", "y", "z"]].notna().all().all()
        annotated = df.annotation.dropna()
        assert annotated.isin(dictionary.index).all()
    na = pd.concat([df.annotation for df in frames.values()]).isna().mean()
    assert 0 < na < 0.5  # some, but not most, unannotated
    start_hours = {pd.Timestamp(df.time.iloc[0]).hour for df in frames.values()}
    assert len(start_hours) > 1  # start clock differs between participants


def test_bouts_are_not_window_aligned(frames):
    df = frames["P003"]
    change = np.flatnonzero(df.annotation.fillna("") != df.annotation.fillna("").shift())[1:]
    assert len(change) > 0 and np.any(change % 3000 != 0)


def test_deterministic(tmp_path):
    a, b, c = (
        tmp_path / "a" / "P010.csv.gz",
        tmp_path / "b" / "P010.csv.gz",
        tmp_path / "P011.csv.gz",
    )
    synthetic.write_recording(a, "P010", Synthetic(2, 0.1, seed=1, format="csv"))
    synthetic.write_recording(b, "P010", Synthetic(2, 0.1, seed=1, format="csv"))
    synthetic.write_recording(c, "P011", Synthetic(2, 0.1, seed=1, format="csv"))
    assert a.read_bytes() == b.read_bytes()
    xa, xc = (pd.read_csv(p)[["x", "y", "z"]].to_numpy() for p in (a, c))
    assert not np.allclose(xa, xc)


def test_still_classes_feel_one_g(segments):
    still = [x for lab, x in segments if lab["label:Willetts2018"] in ("sit-stand", "sleep")]
    assert still, "no sit-stand or sleep bouts in the sample"
    norm = np.linalg.norm(np.concatenate(still), axis=1)
    assert 0.97 < norm.mean() < 1.03


def _dominant_hz(x):
    norm = np.linalg.norm(x, axis=1)
    f, p = signal.welch(norm - norm.mean(), fs=100, nperseg=1024)
    band = (f > 0.5) & (f < 5)
    return f[band][np.argmax(p[band])]


def test_walking_has_step_rhythm(segments):
    walks = [x for lab, x in segments if lab["label:Willetts2018"] == "walking" and len(x) > 6000]
    assert walks, "no walking bouts in the sample"
    peaks = [_dominant_hz(x) for x in walks]
    assert 1.5 <= np.median(peaks) <= 2.3, peaks


def test_walking_moves_more_than_sitting(segments):
    def movement(label):
        xs = [x for lab, x in segments if lab["label:Willetts2018"] == label]
        assert xs, f"no {label} bouts in the sample"
        return np.median([np.linalg.norm(x, axis=1).std() for x in xs])

    assert movement("walking") > 3 * movement("sit-stand")


def test_sitting_and_standing_differ_by_orientation(segments):
    def share_on_z(label):
        xs = [x for lab, x in segments if lab["label:WillettsSpecific2018"] == label]
        assert xs, f"no {label} bouts in the sample"
        x = np.concatenate(xs)
        return np.mean(np.abs(x[:, 2]) / np.linalg.norm(x, axis=1))

    assert share_on_z("sitting") > share_on_z("standing") + 0.1


def test_sleep_is_stiller_than_walking():
    # Night is not guaranteed in a short recording, so compare the bout generator directly.
    rng = np.random.default_rng(0)
    traits = {"cadence": 1.9, "pedal": 1.0, "walk_amp": 0.3, "activity": 1.0}
    sleep = synthetic._signal("sleep", rng, 60_000, traits)
    walk = synthetic._signal("walking", rng, 60_000, traits)
    assert np.linalg.norm(sleep, axis=1).std() < 0.1 * np.linalg.norm(walk, axis=1).std()
    assert 1.5 <= _dominant_hz(walk) <= 2.3


def test_write_metadata(tmp_path):
    pids = synthetic.participant_ids(10)
    synthetic.write_metadata(tmp_path, pids, Synthetic(10, 1, seed=3, format="csv"))
    meta = pd.read_csv(tmp_path / "metadata.csv")
    assert list(meta.columns) == ["pid", "age", "sex"]
    assert meta.pid.tolist() == pids
    assert set(meta.age) <= {"18-29", "30-37", "38-52", "53+"}
    assert set(meta.sex) <= {"F", "M"}
    copied = (tmp_path / "annotation-label-dictionary.csv").read_bytes()
    assert copied == DICT_FILE.read_bytes()
    synthetic.write_metadata(tmp_path / "again", pids, Synthetic(10, 1, seed=3, format="csv"))
    assert (tmp_path / "again" / "metadata.csv").read_bytes() == (
        tmp_path / "metadata.csv"
    ).read_bytes()
