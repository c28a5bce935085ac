"""The built-in synthetic dataset: Capture-24 look-alike data in Capture-24's layout, so the
pipeline runs without the real download. The workflow's synthesize rules make its files; it is
then read as a capture24 source. With `synthetic.format: cwa` the same cohort comes as the
device would give it: Axivity `.cwa` files, each miscalibrated (an offset and a scale per
axis), with a temperature, at a rate a few percent off the configured 100 Hz, and an
`annotations.csv` of their annotated intervals.

Signals are wrist acceleration in g at 100 Hz: gravity on a slowly changing wrist orientation
plus kind-specific movement and sensor noise. Activities come as bouts of minutes whose kind
depends on the clock hour; bouts carry real annotation strings from the released dictionary.
"""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy import signal
from scipy.spatial.transform import Rotation

from spectrohar.sources import capture24
from spectrohar.sources.annotations import ANNOTATIONS
from spectrohar.sources.labels import DICTIONARY, PACKAGED_DICTIONARY, SCHEME, read_dictionary
from spectrohar.sources.metadata import METADATA
from spectrohar.sources.writers import write_cwa

RULES = "synthesize.smk"
SUFFIX = {"csv": ".csv.gz", "cwa": ".cwa"}  # a recording's file by synthetic.format

read = capture24.read

_FS = 100
_HEADER = b"time,x,y,z,annotation\n"
_KIND = {
    "sleep": "sleep",
    "sitting": "sitting",
    "standing": "standing",
    "walking": "walking",
    "bicycling": "cycling",
    "vehicle": "vehicle",
    "household-chores": "mixed",
    "manual-work": "mixed",
    "mixed-activity": "mixed",
    "sports": "mixed",
}
_KINDS = ["sleep", "sitting", "standing", "walking", "cycling", "vehicle", "mixed"]
# Target sample shares by day and night, and mean bout minutes; bout odds = share / mean.
_SHARE_DAY = np.array([0.03, 0.30, 0.13, 0.10, 0.04, 0.07, 0.33])
_SHARE_NIGHT = np.array([0.88, 0.06, 0.01, 0.01, 0.0, 0.0, 0.04])
_MEAN_MIN = np.array([150.0, 15, 6, 5, 12, 15, 10])
# Gravity direction in the device frame: forearm level (z), arm hanging (x), on handlebars.
_LEVEL = np.array([0.2, -0.1, -0.97])
_HANG = np.array([-0.97, 0.15, 0.1])
_BARS = np.array([-0.55, 0.1, -0.8])
_AGES = ["18-29", "30-37", "38-52", "53+"]


def _vocabulary() -> dict[str, list[str]]:
    """Real annotation strings per signal kind, exactly as released (typos included)."""
    dictionary = read_dictionary()
    kinds = dictionary[f"{SCHEME}WillettsSpecific2018"].map(_KIND)
    return {k: dictionary.index[kinds == k].tolist() for k in _KINDS}


def participants(settings) -> list[str]:
    """The ids the synthesize rules make."""
    return participant_ids(settings.synthetic.participants)


def inputs(settings, participant) -> dict[str, str]:
    """The participant's recording as the synthesize rules write it and, for device files,
    the folder's annotation table."""
    folder, kind = settings.source.path, settings.synthetic.format
    table = {"annotations": f"{folder}/{ANNOTATIONS}"} if kind != "csv" else {}
    return {"recording": f"{folder}/{participant}{SUFFIX[kind]}", **table}


def participant_ids(n: int) -> list[str]:
    """n ids 'P001'..'P151' spread evenly over 1..151, about a third in the test range."""
    if not 1 <= n <= 151:
        raise ValueError(f"n must be in 1..151, got {n}")
    nums = np.unique(np.round(np.linspace(1, 151, n)).astype(int))
    return [f"P{i:03d}" for i in nums]


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _tilt(rng, base, deg):
    """Base direction tilted by a random angle of about `deg` degrees."""
    return _unit(base + rng.normal(0, np.tan(np.radians(deg)) / np.sqrt(3), 3))


def _band(rng, n, lo, hi, std, k=3):
    """(n, k) Gaussian noise band-limited to lo..hi Hz (lowpass if lo is None), given std."""
    if lo is None:
        sos = signal.butter(2, hi, "lowpass", fs=_FS, output="sos")
    else:
        sos = signal.butter(2, [lo, min(hi, 0.45 * _FS)], "bandpass", fs=_FS, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal((n, k)), axis=0)
    return x * (std / max(x.std(), 1e-12))


def _events(rng, n, per_min, dur_s):
    """(n,) 0/1 mask of Poisson events per minute lasting dur_s=(lo, hi) seconds."""
    count = rng.poisson(per_min * n / (60 * _FS))
    starts = rng.integers(0, n, count)
    ends = np.minimum(starts + (rng.uniform(*dur_s, count) * _FS).astype(int), n)
    edges = np.zeros(n + 1)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    return (np.cumsum(edges[:n]) > 0).astype(float)


def _posture(rng, n, bases, spread, every_s, drift=0.03):
    """(n, 3) gravity direction: postures held for ~every_s seconds with smooth changes."""
    n_postures = 1 + rng.poisson(n / (every_s * _FS))
    cuts = np.sort(rng.integers(0, n, n_postures - 1))
    dirs = np.array(
        [_tilt(rng, bases[rng.integers(len(bases))], spread) for _ in range(n_postures)]
    )
    g = dirs[np.searchsorted(cuts, np.arange(n), side="right")]
    g = signal.sosfiltfilt(signal.butter(2, 1.0, fs=_FS, output="sos"), g, axis=0) if n > 30 else g
    return _unit(g + _band(rng, n, None, 0.05, drift))


def _gait(rng, n, cadence, amp, g):
    """Gravity g swung at half the step rate plus step impacts with harmonics."""
    f = cadence * rng.uniform(0.97, 1.03) * (1 + _band(rng, n, None, 0.02, 0.02, 1)[:, 0])
    phi = 2 * np.pi * np.cumsum(f) / _FS + rng.uniform(0, 2 * np.pi)
    phases = rng.uniform(0, 2 * np.pi, 3)
    step = np.sin(phi) + 0.5 * np.sin(2 * phi + phases[0]) + 0.25 * np.sin(3 * phi + phases[1])
    a = np.radians(rng.uniform(15, 30)) * np.sin(phi / 2 + phases[2])
    gx, gz = g[:, 0] * np.cos(a) - g[:, 2] * np.sin(a), g[:, 0] * np.sin(a) + g[:, 2] * np.cos(a)
    swung = np.column_stack([gx, g[:, 1], gz])
    return swung + amp * step[:, None] * _tilt(rng, -g[0], 30)


def _still_motion(rng, n, activity):
    """Small hand movements and occasional gestures of a seated or standing person."""
    level = activity * rng.choice([0.004, 0.015, 0.03])  # watching TV ... typing/eating
    gestures = _events(rng, n, rng.uniform(0.2, 2), (1, 4))[:, None]
    return _band(rng, n, 0.1, 2, level) + gestures * _band(rng, n, 0.5, 4, 0.08 * activity)


def _signal(kind, rng, n, traits):
    """(n, 3) acceleration in g (gravity + movement, no sensor noise) for one bout."""
    activity = traits["activity"]
    if kind == "sleep":
        g = _posture(rng, n, [_unit(rng.normal(size=3))], 60, rng.uniform(20, 60) * 60, 0.01)
        return g + _events(rng, n, 0.2, (0.3, 2))[:, None] * _band(rng, n, 1, 8, 0.03)
    if kind in ("sitting", "standing"):
        sit = kind == "sitting"
        bases = [_LEVEL, _HANG] if rng.random() < 0.25 else [_LEVEL if sit else _HANG]
        g = _posture(rng, n, bases, 30, 180 if sit else 90)
        x = g + _still_motion(rng, n, activity)
        if not sit:  # weight shifts and a few shuffling steps
            steps = _events(rng, n, 0.5, (2, 6))[:, None]
            x += _band(rng, n, 0.1, 0.5, 0.02) + steps * (
                _gait(rng, n, traits["cadence"], 0.15, g) - g
            )
        return x
    if kind == "walking":
        g = _posture(rng, n, [_HANG], 15, 120)
        pause = _events(rng, n, 0.5, (5, 30))[:, None]
        return g + (1 - pause) * (_gait(rng, n, traits["cadence"], traits["walk_amp"], g) - g)
    if kind == "cycling":
        g = _posture(rng, n, [_BARS, _LEVEL], 25, 120, drift=0.06)
        f = traits["pedal"] * (1 + _band(rng, n, None, 0.02, 0.03, 1)[:, 0])
        phi = 2 * np.pi * np.cumsum(f) / _FS
        pedal = np.column_stack([np.sin(phi), 0.5 * np.sin(phi + 1), 0.3 * np.sin(2 * phi)])
        coast = _events(rng, n, 0.3, (5, 20))[:, None]
        stop = _events(rng, n, 0.2, (10, 60))[:, None]  # traffic lights: hands still
        road = _band(rng, n, 8, 30, rng.uniform(0.005, 0.03))
        amp = activity * rng.uniform(0.03, 0.1)
        return g + (1 - stop) * ((1 - coast) * amp * pedal + road)
    if kind == "vehicle":
        g = _posture(rng, n, [_LEVEL, _LEVEL, _BARS], 30, 300)
        stop = 1 - 0.8 * _events(rng, n, 0.3, (10, 60))[:, None]  # idling engine only
        vib = _band(rng, n, 2, 20, rng.uniform(0.005, 0.03))
        sway = _band(rng, n, None, 0.5, rng.uniform(0.01, 0.05))
        return g + stop * (vib + sway) + 0.5 * _still_motion(rng, n, activity)
    # mixed: still spells, bursts of band-limited movement and short walks, ~30 s each
    out, done = [], 0
    while done < n:
        length = min(n - done, int(rng.exponential(30 * _FS)) + 2 * _FS)
        draw = rng.random()
        if draw < 0.35:
            out.append(_signal(rng.choice(["sitting", "standing"]), rng, length, traits))
        elif draw < 0.8:
            g = _posture(rng, length, [_LEVEL, _HANG, _BARS], 45, 5, drift=0.1)
            lo, hi = rng.uniform(0.3, 2), rng.uniform(3, 12)
            out.append(g + _band(rng, length, lo, hi, activity * rng.uniform(0.05, 0.4)))
        else:
            out.append(
                _gait(
                    rng,
                    length,
                    traits["cadence"],
                    traits["walk_amp"],
                    _posture(rng, length, [_HANG], 20, 60),
                )
            )
        done += length
    return np.concatenate(out)


def _bouts(rng, n, start_s):
    """Yield (kind, n_samples, annotated) bouts covering n samples; kind odds follow the hour."""
    t = 0
    while t < n:
        hour = (start_s + t / _FS) / 3600 % 24
        night = hour >= 23 or hour < 7
        mean = _MEAN_MIN if night else np.r_[30.0, _MEAN_MIN[1:]]  # daytime naps are short
        odds = (_SHARE_NIGHT if night else _SHARE_DAY) / mean
        k = rng.choice(len(_KINDS), p=odds / odds.sum())
        lo, hi = (20, 300) if k == 0 else (2, 40)
        length = int(np.clip(rng.exponential(mean[k]), lo, hi) * 60 * _FS)
        yield _KINDS[k], min(length, n - t), rng.random() > 0.1
        t += length
        if rng.random() < 0.2 and t < n:  # unannotated transition between bouts
            length = int(rng.uniform(5, 120) * _FS)
            yield "mixed", min(length, n - t), False
            t += length


def write_recording(path, participant: str, synthetic, intervals=None) -> None:
    """Write one participant's recording to `path` as the `synthetic` settings say (hours, seed,
    format): a `P###.csv.gz` file, or a `.cwa` file with its annotated intervals in the
    annotation table `intervals`."""
    rng = np.random.default_rng([synthetic.seed, int(participant[1:])])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    n = int(round(synthetic.hours * 3600 * _FS))
    traits = {  # per-participant traits
        "cadence": rng.uniform(1.65, 2.15),
        "pedal": rng.uniform(0.8, 1.4),
        "walk_amp": rng.uniform(0.2, 0.5),
        "activity": rng.uniform(0.7, 1.3),
    }
    wear = Rotation.from_rotvec(rng.normal(0, 0.15, 3)).as_matrix()
    noise = rng.uniform(0.005, 0.015)
    start_s = int(rng.integers(7 * 3600, 24 * 3600))
    day = np.datetime64("2014-01-01") + rng.integers(0, 3 * 365)

    vocab = _vocabulary()
    strings = [s for k in _KINDS for s in vocab[k]]
    offset = dict(zip(_KINDS, np.cumsum([0] + [len(vocab[k]) for k in _KINDS]), strict=False))
    xyz = np.empty((n, 3))
    code = np.full(n, -1, dtype=np.int32)
    t = 0
    for kind, length, annotated in _bouts(rng, n, start_s):
        xyz[t : t + length] = _signal(kind, rng, length, traits)
        if annotated:
            code[t : t + length] = offset[kind] + rng.integers(len(vocab[kind]))
        t += length
    xyz = xyz @ wear.T + rng.normal(0, noise, (n, 3))
    xyz = np.round(np.clip(xyz, -8, 8), 6)

    time = day.astype("datetime64[us]") + np.timedelta64(start_s, "s") + np.arange(n) * 10_000
    if synthetic.format == "cwa":
        _write_device_file(path, intervals, participant, synthetic, time, xyz, code, strings)
        return
    ann = pa.DictionaryArray.from_arrays(pa.array(code, mask=code < 0), pa.array(strings))
    table = pa.table(
        {"time": time, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "annotation": ann}
    )
    # Arrow quotes every string unless told not to; quote only if a string really needs it.
    needs = any(c in s for s in strings for c in ',"\r\n')
    opts = pacsv.WriteOptions(
        include_header=False, batch_size=1 << 16, quoting_style="needed" if needs else "none"
    )
    # Level 1: formatting + compression dominate run time; mtime 0 keeps bytes reproducible.
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as out:
        out.write(_HEADER)
        pacsv.write_csv(table, out, opts)


def _write_device_file(path, intervals, participant, synthetic, time, xyz, code, strings):
    """The recording as an AX3 would give it: a `.cwa` file at a rate a few percent off 100 Hz,
    miscalibrated, with a slowly changing temperature; its annotated stretches, on the device's
    clock, to the annotation table `intervals`."""
    rng = np.random.default_rng([synthetic.seed, int(participant[1:]), 1])  # the CSV's draws kept
    rate = _FS * rng.uniform(0.97, 1.03)  # the device's true rate
    device_time = time[0] + np.round(np.arange(len(time)) * 1e9 / rate).astype("timedelta64[ns]")
    offset, scale = rng.normal(0, 0.03, 3), rng.normal(1, 0.02, 3)
    hours = np.arange(len(time)) / (_FS * 3600)
    temperature = 27 + 3 * np.sin(2 * np.pi * hours / 24 + rng.uniform(0, 2 * np.pi))
    write_cwa(
        path,
        device_time,
        (xyz - offset) / scale,  # what calibration's offset and scale map back to g
        temperature=temperature,
        device_id=int(participant[1:]),
        sample_rate=_FS,
    )
    # A stretch ends where the next sample starts (the last sample: one step later).
    ends = np.append(device_time, device_time[-1] + np.timedelta64(round(1e9 / rate), "ns"))
    change = np.flatnonzero(np.diff(code, prepend=-2, append=-2))
    runs = [(a, b) for a, b in zip(change[:-1], change[1:], strict=True) if code[a] >= 0]
    pd.DataFrame(
        {
            "recording": participant,
            "start": [device_time[a] for a, _ in runs],
            "end": [ends[b] for _, b in runs],
            "annotation": [strings[code[a]] for a, _ in runs],
        }
    ).to_csv(intervals, index=False)


def write_metadata(folder, participants: list[str], synthetic) -> None:
    """Write metadata.csv (pid,age,sex) and a copy of the real annotation-label dictionary."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(synthetic.seed)
    meta = pd.DataFrame(
        {
            "pid": list(participants),
            "age": rng.choice(_AGES, len(participants)),
            "sex": rng.choice(["F", "M"], len(participants)),
        }
    )
    meta.to_csv(folder / METADATA, index=False)
    (folder / DICTIONARY).write_bytes(PACKAGED_DICTIONARY.read_bytes())
