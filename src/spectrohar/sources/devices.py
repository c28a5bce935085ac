"""Device recordings as they come off the wrist: Axivity `.cwa`, ActiGraph `.gt3x` and GENEActiv
`.bin` files, each also gzipped, read by actfast.

A device stores samples in blocks (a CWA sector, a GT3X second, a BIN page), each with the time
of its first sample; within a block the reader spaces samples at the configured rate, but a real
device's rate wanders (an AX3 set to 100 Hz delivers 94 to 104 Hz), so consecutive blocks
overlap or leave slivers between them. Each run of blocks that follow one another (no step longer
than the gap setting) is given the times its own block timestamps say: a block's samples are
spread evenly from its timestamp to the next block's. Times are the device clock's, naive.

What the reader cannot read is reported, never silently lost: a damaged block is skipped and
counted (its time becomes a gap), a file cut short keeps what it holds and says what is missing.
"""

import gzip
import logging
import shutil
import tempfile
import zlib
from pathlib import Path

import actfast
import numpy as np
import pandas as pd

from spectrohar.cache.windows import Recording
from spectrohar.errors import DataError

log = logging.getLogger(__name__)

# actfast's name of each format, by the file suffix that names it.
FORMATS = {".cwa": "Axivity CWA", ".gt3x": "Actigraph GT3X", ".bin": "GeneActiv BIN"}
SUFFIXES = (*(f"{suffix}.gz" for suffix in FORMATS), *FORMATS)
BLOCK_TOLERANCE = 0.01  # of a sample step: a step further off nominal starts a new block
CWA_SECTOR = 512
# Wrist acceleration in walking reaches past 2 g: a smaller range clips what the models learnt on.
MIN_RANGE_G = 4


def read(path, max_gap_s) -> Recording:
    """The recording in the device file at `path` (gzipped where its name ends .gz): times
    from its block timestamps (steps over `max_gap_s` left as gaps), acceleration in g, each
    sample's temperature where the device records it, and the device's description (`device`,
    for the store's attributes)."""
    path = Path(path)
    suffix = path.suffix if path.suffix != ".gz" else Path(path.stem).suffix
    if path.suffix == ".gz":
        with tempfile.TemporaryDirectory() as folder:
            plain = Path(folder) / f"recording{suffix}"
            try:
                with gzip.open(path) as source, open(plain, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
            except (OSError, EOFError, zlib.error) as error:
                raise DataError(
                    f"{path}: is named .gz but cannot be decompressed: {error}"
                ) from None
            return _read(path, plain, suffix, max_gap_s)
    return _read(path, path, suffix, max_gap_s)


def _read(path, plain, suffix, max_gap_s) -> Recording:
    """`read` of the decompressed file `plain`, `path` named in sentences."""
    if plain.stat().st_size == 0:
        raise DataError(f"{path}: is empty ({FORMATS[suffix]} data holds a header and samples)")
    try:
        data = actfast.read(plain, lenient=True)
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: cannot be read as {FORMATS[suffix]} data ({error})") from None
    if data["format"] != FORMATS[suffix]:
        raise DataError(
            f"{path}: is named {suffix} but holds {data['format']} data (rename it to its "
            f"format's suffix, {next(s for s, f in FORMATS.items() if f == data['format'])})"
        )
    series = data["timeseries"]
    samples = series.get("high_frequency") or series.get("acceleration")
    if samples is None or not len(samples["datetime"]):
        raise DataError(f"{path}: holds no samples ({FORMATS[suffix]} data with a header only)")
    try:
        device = _description(data, samples)
    except (KeyError, ValueError) as error:
        raise DataError(
            f"{path}: its header does not give the device's rate and range ({error!r})"
        ) from None
    _check_device(path, device)
    raw = samples["datetime"].view("datetime64[ns]")
    time = block_times(raw, device["device_sample_rate_hz"], max_gap_s)
    back = np.flatnonzero(np.diff(time) <= np.timedelta64(0)) + 1
    if back.size:
        back = back[0]
        raise DataError(
            f"{path}: sample {back + 1}: time {raw[back]} is not after the one before "
            f"({raw[back - 1]}): the device clock went back (was it reset while recording?)"
        )
    low = series.get("low_frequency", {})
    temperature = (
        np.interp(raw.view("int64"), low["datetime"], low["temperature"]).astype(np.float32)
        if "temperature" in low and len(low["datetime"])
        else None
    )
    device["device_problems"] = _problems(path, plain, suffix, data)
    for problem in device["device_problems"]:
        log.warning("%s: %s", path, problem)
    return Recording(
        time=time,
        acceleration=np.asarray(samples["acceleration"], np.float32),
        annotation=pd.Series(pd.Categorical.from_codes(np.full(len(time), -1), [])),
        temperature=temperature,
        device=device,
    )


def _description(data, samples) -> dict:
    """The device's type, serial, configured rate and range, first and last sample, as the
    store's `device_*` attributes; the same keys for every format."""
    meta = data["metadata"]
    if data["format"] == FORMATS[".cwa"]:
        device, configuration = meta["device"], meta["configuration"]
        kind, serial = device["hardware_type"], device["device_id"]
        rate, range_g = configuration["sample_rate_hz"], configuration["accelerometer_range_g"]
    elif data["format"] == FORMATS[".gt3x"]:
        info = meta["info"]
        kind, serial, rate = info["Device Type"], info["Serial Number"], info["Sample Rate"]
        range_g = info.get("Acceleration Max", "nan")
    else:
        identity, configuration = meta["Device Identity"], meta["Configuration Info"]
        kind, serial = identity["Device Type"], identity["Device Unique Serial Code"]
        rate = configuration["Measurement Frequency"].split()[0]  # "100 Hz"
        range_g = meta["Device Capabilities"]["Accelerometer Range"].split()[-1]  # "-8 to 8"
    time = samples["datetime"].view("datetime64[ns]")
    return {
        "device_format": data["format"],
        "device_type": kind,
        "device_serial": serial,
        "device_sample_rate_hz": float(rate),
        "device_range_g": float(range_g),
        "device_first_sample": str(pd.Timestamp(time[0])),
        "device_last_sample": str(pd.Timestamp(time[-1])),
    }


def _check_device(path, device) -> None:
    """Stop where the device's configured rate or range is none a model can use."""
    rate, range_g = device["device_sample_rate_hz"], device["device_range_g"]
    if not rate > 0:
        raise DataError(f"{path}: the device's configured sample rate is {rate:g} Hz")
    if range_g < MIN_RANGE_G:
        raise DataError(
            f"{path}: the device was set to a range of ±{range_g:g} g, which clips wrist "
            f"movement (at least ±{MIN_RANGE_G} g is needed)"
        )


def block_times(time, sample_rate, max_gap_s) -> np.ndarray:
    """Sample times from a device's `time` (datetime64[ns], each block's samples spaced at the
    nominal `sample_rate` from the block's timestamp): within each run of blocks no more than
    `max_gap_s` apart, a block's samples are spread evenly up to the next block's timestamp;
    the last block of a run keeps the nominal spacing."""
    t = time.view("int64")
    nominal = 1e9 / sample_rate
    step = np.diff(t)
    starts = np.flatnonzero(np.abs(step - nominal) > BLOCK_TOLERANCE * nominal) + 1
    if not starts.size:
        return time.copy()
    first = np.concatenate([[0], starts])  # each block's first sample
    ends = np.concatenate([starts, [len(t)]])
    block_start = t[first]
    next_start = np.append(block_start[1:], np.iinfo(np.int64).max)
    # The next block follows when its timestamp is no more than max_gap_s after this block's
    # nominal end; it may also be before it (a fast device), though not before its start.
    follows = (next_start - (t[ends - 1] + nominal) <= max_gap_s * 1e9) & (next_start > block_start)
    span = np.where(follows, next_start - block_start, (ends - first) * nominal)
    block = np.repeat(np.arange(len(first)), ends - first)
    position = np.arange(len(t)) - first[block]
    spread = block_start[block] + position * (span / (ends - first))[block]
    return np.round(spread).astype(np.int64).view("datetime64[ns]")


def _problems(path, plain, suffix, data) -> list[str]:
    """What of the file could not be read: the reader's warnings (blocks skipped) and, for a
    CWA file, a last sector cut short."""
    problems = list(data["warnings"])
    if suffix == ".cwa":
        cut = plain.stat().st_size % CWA_SECTOR
        if cut:
            problems.append(
                f"the file ends {cut} bytes into a {CWA_SECTOR}-byte sector (cut short): that "
                "sector's samples are lost"
            )
    elif suffix == ".bin":
        pages = int(data["metadata"].get("Memory Status", {}).get("Number of Pages", 0))
        read = len(data["timeseries"].get("low_frequency", {}).get("datetime", ()))
        if read < pages:
            problems.append(f"{pages - read} of the {pages} pages its header counts are missing")
    return problems
