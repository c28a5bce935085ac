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

A week at 100 Hz is read in pieces, never whole: the file is cut along its format's framing into
parts (its header and a run of whole blocks: CWA sectors, BIN pages, GT3X log records), each
written to a temporary file for actfast. A run of blocks may be as long as the file, and its
times depend on where it ends, so the parts are read twice: first for the block timestamps and
what is wrong with the file, then for the samples, a piece a part. A gzipped file is
decompressed as it is cut (a .gt3x.gz whole first: a zip's directory is at its end).
"""

import contextlib
import dataclasses
import functools
import gzip
import itertools
import logging
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import actfast
import numpy as np
import pandas as pd

from spectrohar.cache.recording import Recording
from spectrohar.errors import DataError

log = logging.getLogger(__name__)

# actfast's name of each format, by the file suffix that names it.
FORMATS = {".cwa": "Axivity CWA", ".gt3x": "Actigraph GT3X", ".bin": "GeneActiv BIN"}
SUFFIXES = (*(f"{suffix}.gz" for suffix in FORMATS), *FORMATS)
# How a file of each format begins: actfast tells them apart by these bytes.
MAGIC = {".cwa": b"MD", ".gt3x": b"PK\x03\x04", ".bin": b"Devi"}
BLOCK_TOLERANCE = 0.01  # of a sample step: a step further off nominal starts a new block
# Wrist acceleration in walking reaches past 2 g: a smaller range clips what the models learnt on.
MIN_RANGE_G = 4
CWA_HEADER, CWA_SECTOR, CWA_SAMPLE_BYTES = 1024, 512, 480  # bytes; a sector's samples' bytes
BIN_HEADER_LINES, BIN_PAGE_LINES, BIN_PAGE = 59, 10, 300  # a page's lines and samples
GT3X_INFO, GT3X_LOG = "info.txt", "log.bin"
GT3X_SEPARATOR, GT3X_ACTIVITY, GT3X_PARAMETERS = 0x1E, 0x00, 0x15  # a record's first byte; types
GT3X_LONGEST = 8 + 0xFFFF + 1  # bytes of a log record at most
# actfast numbers a .bin page by the pages before it less those it skipped for these reasons.
BIN_SKIPPED = ("Invalid datetime", "Invalid hex data")
_PLACE = re.compile(r"\b(sector|record|byte offset) (\d+)")  # places in actfast's messages


class Part(NamedTuple):
    """A temporary `file` of a device file's header and a run of its blocks, `block` the file's
    index of the first and `byte` what makes a byte offset in the part the file's."""

    file: Path
    block: int
    byte: int


@dataclasses.dataclass
class Survey:
    """What the first reading of a device file's parts found: the `device` description (the
    whole file's), each block's first sample, time and sample spacing (`blocks`; None: no step
    off the nominal one, times as read), each block's time and temperature (`temperature`; None
    where the device records none), and the data of a file read as one part (`whole`, not read
    again). A week of blocks takes a few megabytes."""

    device: dict
    blocks: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    temperature: tuple[np.ndarray, np.ndarray] | None
    whole: dict | None


def read_pieces(path, max_gap_s, piece_rows) -> Iterator[Recording]:
    """The recording in the device file at `path` (gzipped where its name ends .gz) in pieces
    of at most `piece_rows` samples (None: one piece; a piece holds one block at least): times
    from its block timestamps (steps over `max_gap_s` left as gaps), acceleration in g, each
    sample's temperature where the device records it, and the device's description (`device`,
    the same on every piece: the whole file's, its problems included). A file that cannot be
    used stops before its first piece; a device clock that goes back, at the piece where it
    does."""
    path = Path(path)
    suffix = path.suffix if path.suffix != ".gz" else Path(path.stem).suffix
    with tempfile.TemporaryDirectory() as folder:
        parts = functools.partial(_parts, path, suffix, Path(folder), piece_rows)
        survey = _survey(path, suffix, parts(), max_gap_s)
        for problem in survey.device["device_problems"]:
            log.warning("%s: %s", path, problem)
        decoded = (
            [survey.whole] if survey.whole else (_decoded(path, suffix, p, 0) for p in parts())
        )
        first, before = 0, None
        for data in decoded:
            samples = _tables(data)[0]
            if not len(samples["datetime"]):
                continue
            raw = samples["datetime"].view("datetime64[ns]")
            time = (
                raw.copy()
                if survey.blocks is None
                else _spread(raw.view("int64"), first, survey.blocks)
            )
            _refuse_going_back(path, time, raw, first, before)
            yield Recording(
                time=time,
                acceleration=np.asarray(samples["acceleration"], np.float32),
                annotation=pd.Series(pd.Categorical.from_codes(np.full(len(time), -1), [])),
                temperature=(
                    None
                    if survey.temperature is None
                    else np.interp(raw.view("int64"), *survey.temperature).astype(np.float32)
                ),
                device=survey.device,
            )
            first, before = first + len(time), (time[-1], raw[-1])
            del data, samples, raw, time  # before the next part is read


def _survey(path, suffix, parts, max_gap_s) -> Survey:
    """Read each of `parts` for what the whole file's samples need (Survey), refusing what
    cannot be used; actfast's messages count blocks and bytes from the file's start."""
    device = metadata = whole = first_time = last_time = None
    count, skipped, pages, size = 0, 0, 0, 0
    warnings, starts, temperatures = [], [], []
    for index, part in enumerate(parts):
        whole = None  # the first part's data, freed before the next is read
        data = _decoded(path, suffix, part, skipped)
        if device is None:
            device, metadata = _device(path, suffix, data), data["metadata"]
            nominal = 1e9 / device["device_sample_rate_hz"]
        warnings += data["warnings"]
        if suffix == ".bin":
            skipped += sum(warning.startswith(BIN_SKIPPED) for warning in data["warnings"])
        size = part.byte + part.file.stat().st_size
        samples, low = _tables(data)
        pages += len(low["datetime"])
        if "temperature" in low:
            temperatures.append((low["datetime"], low["temperature"]))
        t = samples["datetime"]
        if len(t):
            at, start, before = _block_starts(t, last_time, nominal)
            starts.append((count + at, start, before))
            first_time = t[0] if first_time is None else first_time
            count, last_time = count + len(t), t[-1]
        whole = data if index == 0 else None
        del data, samples, low, t  # before the next part is read
    if not count:
        raise DataError(f"{path}: holds no samples ({FORMATS[suffix]} data with a header only)")
    device["device_first_sample"] = str(pd.Timestamp(first_time))
    device["device_last_sample"] = str(pd.Timestamp(last_time))
    device["device_problems"] = warnings + _lost(suffix, size, metadata, pages)
    at, start, before = (np.concatenate(arrays) for arrays in zip(*starts, strict=True))
    blocks = (
        _blocks(at, start, before, first_time, last_time, count, nominal, max_gap_s)
        if at.size
        else None
    )
    temperature = (
        tuple(np.concatenate(arrays) for arrays in zip(*temperatures, strict=True))
        if pages and temperatures
        else None
    )
    return Survey(device, blocks, temperature, whole)


def _tables(data) -> tuple[dict, dict]:
    """The samples (datetime, acceleration) and block values (datetime, temperature where the
    device records it) of actfast's reading of a part, empty where it has none."""
    series = data["timeseries"]
    empty = {"datetime": np.empty(0, np.int64)}
    samples = series.get("high_frequency") or series.get("acceleration") or empty
    return samples, series.get("low_frequency") or empty


def _decoded(path, suffix, part, skipped) -> dict:
    """actfast's reading of `part` of the file at `path`, its messages' places the file's
    (`skipped`: the .bin pages actfast skipped before the part)."""
    try:
        data = actfast.read(part.file, lenient=True)
    except (ValueError, OSError) as error:
        raise DataError(
            f"{path}: cannot be read as {FORMATS[suffix]} data "
            f"({_in_file(str(error), part, skipped)})"
        ) from None
    data["warnings"] = [_in_file(warning, part, skipped) for warning in data["warnings"]]
    return data


def _in_file(message, part, skipped) -> str:
    """actfast's `message` about `part`, its sectors, records and byte offsets counted from
    the file's start."""

    def moved(match) -> str:
        shift = part.byte if match[1] == "byte offset" else part.block - skipped
        return f"{match[1]} {int(match[2]) + shift}"

    return _PLACE.sub(moved, message)


def _device(path, suffix, data) -> dict:
    """The device's description from the header of `data`, actfast's reading of a part of the
    file at `path`, refused where its format is not its suffix's or its setting unusable."""
    if data["format"] != FORMATS[suffix]:
        raise DataError(
            f"{path}: is named {suffix} but holds {data['format']} data (rename it to its "
            f"format's suffix, {next(s for s, f in FORMATS.items() if f == data['format'])})"
        )
    try:
        device = _description(data)
    except (KeyError, ValueError) as error:
        raise DataError(
            f"{path}: its header does not give the device's rate and range ({error!r})"
        ) from None
    _check_device(path, device)
    return device


def _description(data) -> dict:
    """The device's type, serial, configured rate and range, as the store's `device_*`
    attributes; the same keys for every format."""
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
    return {
        "device_format": data["format"],
        "device_type": kind,
        "device_serial": serial,
        "device_sample_rate_hz": float(rate),
        "device_range_g": float(range_g),
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
    at, start, before = _block_starts(t, None, nominal)
    if not at.size:
        return time.copy()
    return _spread(t, 0, _blocks(at, start, before, t[0], t[-1], len(t), nominal, max_gap_s))


def _block_starts(t, previous, nominal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The blocks that start in `t` (int64 ns, after the time `previous`; None: t is the
    file's start), where the step to a sample is further off `nominal` than BLOCK_TOLERANCE:
    the index of each one's first sample in `t`, its time and the time of the sample before."""
    joined = t if previous is None else np.append(previous, t)
    at = np.flatnonzero(np.abs(np.diff(joined) - nominal) > BLOCK_TOLERANCE * nominal) + 1
    return at - (previous is not None), joined[at], joined[at - 1]


def _blocks(at, start, before, first_time, last_time, count, nominal, max_gap_s):
    """Each block's first sample, time and sample spacing (ns) in a file of `count` samples
    from `first_time` to `last_time` whose blocks after the first start at samples `at`, at
    times `start`, after samples at times `before` (block_times' rule)."""
    first = np.append(0, at)
    block_start = np.append(first_time, start)
    next_start = np.append(start, np.iinfo(np.int64).max)
    samples = np.diff(first, append=count)
    # The next block follows when its timestamp is no more than max_gap_s after this block's
    # nominal end; it may also be before it (a fast device), though not before its start.
    follows = (next_start - (np.append(before, last_time) + nominal) <= max_gap_s * 1e9) & (
        next_start > block_start
    )
    span = np.where(follows, next_start - block_start, samples * nominal)
    return first, block_start, span / samples


def _spread(t, first, blocks) -> np.ndarray:
    """The times of samples `first` on of a file (`t`, int64 ns, as read), each block's spread
    as `blocks` (_blocks) say."""
    block_first, block_start, spacing = blocks
    sample = first + np.arange(len(t))
    block = np.searchsorted(block_first, sample, side="right") - 1
    spread = block_start[block] + (sample - block_first[block]) * spacing[block]
    return np.round(spread).astype(np.int64).view("datetime64[ns]")


def _refuse_going_back(path, time, raw, first, before) -> None:
    """Stop at the first of samples `first` on (`time`, as read `raw`) not after the one
    before (`before`: the time and raw time of sample `first` - 1; None: none)."""
    if before is not None:
        time, raw, first = np.append(before[0], time), np.append(before[1], raw), first - 1
    back = np.flatnonzero(np.diff(time) <= np.timedelta64(0)) + 1
    if back.size:
        back = back[0]
        raise DataError(
            f"{path}: sample {first + back + 1}: time {raw[back]} is not after the one before "
            f"({raw[back - 1]}): the device clock went back (was it reset while recording?)"
        )


def _lost(suffix, size, metadata, pages) -> list[str]:
    """What of a file of `size` bytes, `pages` blocks read (its header's `metadata`), is
    missing: for a CWA file, a last sector cut short; for a BIN file, pages the header counts."""
    if suffix == ".cwa" and size % CWA_SECTOR:
        return [
            f"the file ends {size % CWA_SECTOR} bytes into a {CWA_SECTOR}-byte sector (cut "
            "short): that sector's samples are lost"
        ]
    if suffix == ".bin":
        counted = int(metadata.get("Memory Status", {}).get("Number of Pages", 0))
        if pages < counted:
            return [f"{counted - pages} of the {counted} pages its header counts are missing"]
    return []


@contextlib.contextmanager
def _opened(path) -> Iterator:
    """The bytes of the file at `path`, decompressed where its name ends .gz."""
    if path.suffix != ".gz":
        with open(path, "rb") as source:
            yield source
        return
    try:
        with gzip.open(path) as source:
            yield source
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: is named .gz but cannot be decompressed: {error}") from None


def _parts(path, suffix, folder, piece_rows) -> Iterator[Part]:
    """The file at `path` in parts of at most `piece_rows` samples (None: one part), cut along
    the framing of the format it begins as and written in `folder`; a file that begins as none
    is one part, for actfast to say what it is."""
    with _opened(path) as source:
        magic = source.read(4)
    if not magic:
        raise DataError(f"{path}: is empty ({FORMATS[suffix]} data holds a header and samples)")
    framing = next((s for s, begins in MAGIC.items() if magic.startswith(begins)), None)
    whole = piece_rows is None or framing is None
    if path.suffix == ".gz" and (whole or framing == ".gt3x"):
        plain = folder / "whole"
        with _opened(path) as source, open(plain, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        path = plain
    if whole:
        yield Part(path, 0, 0)
    elif framing == ".gt3x":
        yield from _gt3x_parts(path, folder / "part.gt3x", piece_rows)
    else:
        split = {".cwa": _cwa_parts, ".bin": _bin_parts}[framing]
        with _opened(path) as source:
            yield from split(source, folder / f"part{framing}", piece_rows)


def _written(file, *chunks) -> Path:
    with open(file, "wb") as target:
        target.writelines(chunks)
    return file


def _cwa_parts(source, file, piece_rows) -> Iterator[Part]:
    """A CWA file's parts: its 1024-byte header and runs of 512-byte sectors holding at most
    `piece_rows` samples, as many as its first sector holds (one sector at least)."""
    header, sectors = source.read(CWA_HEADER), source.read(CWA_SECTOR)
    per_part = max(1, piece_rows // _cwa_samples(sectors))
    sectors += source.read((per_part - 1) * CWA_SECTOR)
    block = 0
    while True:
        yield Part(_written(file, header, sectors), block, block * CWA_SECTOR)
        sectors, block = source.read(per_part * CWA_SECTOR), block + per_part
        if not sectors:
            return


def _cwa_samples(sector) -> int:
    """The samples a CWA data sector holds: 480 bytes of packed 4-byte samples, or of 2 bytes
    an axis (its numAxesBPS byte, 25: axes in the high nibble, 0 or 2 in the low)."""
    if len(sector) <= 25:
        return 120  # the most a sector holds
    axes, packing = sector[25] >> 4, sector[25] & 0x0F
    return CWA_SAMPLE_BYTES // (4 if packing == 0 else 2 * max(axes, 1))


def _bin_parts(source, file, piece_rows) -> Iterator[Part]:
    """A GENEActiv file's parts: its 59 header lines and runs of 10-line pages of 300 samples,
    at most `piece_rows` samples (one page at least)."""
    header = list(itertools.islice(source, BIN_HEADER_LINES))
    per_part = max(1, piece_rows // BIN_PAGE)
    lines, page = list(itertools.islice(source, per_part * BIN_PAGE_LINES)), 0
    while True:
        yield Part(_written(file, *header, *lines), page, 0)
        lines, page = list(itertools.islice(source, per_part * BIN_PAGE_LINES)), page + per_part
        if not lines:
            return


def _gt3x_parts(path, file, piece_rows) -> Iterator[Part]:
    """An ActiGraph file's parts: its info.txt and runs of log.bin's records holding at most
    `piece_rows` samples (an ACTIVITY record packs two in 9 bytes; one record at least), after
    the last PARAMETERS record before them (actfast takes the rate and scale from it). A file
    that is no zip holding both is one part, for actfast to say so."""
    try:
        archive = zipfile.ZipFile(path)
        info, log_bin = archive.read(GT3X_INFO), archive.open(GT3X_LOG)
    except (zipfile.BadZipFile, KeyError, OSError, zlib.error):
        yield Part(path, 0, 0)
        return
    with archive, log_bin:
        run, samples, block, byte, parameters, carried = [], 0, 0, 0, b"", b""
        for record in _gt3x_records(log_bin):
            estimate = (len(record) - 9) * 2 // 9 if record[1:2] == bytes([GT3X_ACTIVITY]) else 0
            if run and samples + estimate > piece_rows:
                yield _gt3x_part(file, info, carried, run, block, byte)
                block, byte = block + len(run), byte + sum(map(len, run))
                run, samples, carried = [], 0, parameters
            run.append(record)
            samples += estimate
            if record[1:2] == bytes([GT3X_PARAMETERS]):
                parameters = record
        yield _gt3x_part(file, info, carried, run, block, byte)


def _gt3x_records(log_bin) -> Iterator[bytes]:
    """log.bin's records (separator, type, time, size, payload, checksum) in order; where the
    framing breaks (no separator, cut short) what is left of the record ends them, as actfast
    stops there too."""
    data, at = b"", 0
    while True:
        if len(data) - at < GT3X_LONGEST:
            data, at = data[at:] + log_bin.read(1 << 20), 0
        head = data[at : at + 8]
        if len(head) < 8 or head[0] != GT3X_SEPARATOR:
            if head:
                yield head
            return
        end = at + 8 + int.from_bytes(head[6:8], "little") + 1
        yield data[at:end]
        at = end


def _gt3x_part(file, info, carried, run, block, byte) -> Part:
    """A part of info.txt and a log.bin of the records `run` after `carried`, the first of
    them record `block` at byte `byte` of the file's log.bin."""
    with zipfile.ZipFile(file, "w") as archive:  # stored: written and read at once
        archive.writestr(GT3X_INFO, info)
        archive.writestr(GT3X_LOG, b"".join([carried, *run]))
    return Part(file, block - bool(carried), byte - len(carried))
