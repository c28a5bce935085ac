"""Writers of valid device files (Axivity .cwa, GENEActiv .bin, ActiGraph .gt3x) from samples,
for the test suite and the synthetic source: no real recording is ever committed.

Each takes `time`, a datetime64 array of each sample's naive device-clock time (increasing),
and `acceleration`, an (n, 3) array in g, and writes what the device itself would write, so
that `actfast.read` gives the samples back to the format's resolution. The formats store one
time per block (a .cwa sector, a .bin page, a .gt3x second) and space the block's samples at
the configured rate: a block therefore never straddles a gap (a step between samples more than
half a sample period off the nominal one), and a true rate off the nominal one shows only in
the blocks' own times.
"""

import io
import struct
import zipfile
from pathlib import Path

import numpy as np

from spectrohar.errors import DataError

_NS = 1_000_000_000
_DEFAULT_TEMPERATURE = 25.0  # degrees C, where the caller gives none

# Axivity: a 1024-byte metadata header, then 512-byte data sectors (Open Movement's cwa.h).
_CWA_HEADER = 1024
_CWA_SECTOR = 512
_CWA_RATES = {3200.0 / 2**k: 15 - k for k in range(10)}  # rate Hz -> rate code, 3200 to 6.25
_CWA_RANGES = {16: 0, 8: 1, 4: 2, 2: 3}  # range g -> the rate byte's top two bits
_CWA_SCALE = 256  # raw units per g (scale code 0)
_CWA_BATTERY = 190  # battery byte: 3 * (1 + 190 / 256) = 5.2 V as the device reports it
_CWA_SECTOR_FIELDS = np.dtype(
    [
        ("magic", "S2"),
        ("length", "<u2"),
        ("fractional", "<u2"),
        ("session", "<u4"),
        ("sequence", "<u4"),
        ("timestamp", "<u4"),
        ("light", "<u2"),
        ("temperature", "<u2"),
        ("events", "u1"),
        ("battery", "u1"),
        ("rate", "u1"),
        ("axes", "u1"),
        ("offset", "<i2"),
        ("count", "<u2"),
        ("samples", "V480"),
        ("checksum", "<u2"),
    ]
)

# GENEActiv: a 59-line header, then pages of 10 lines of 300 samples each.
_BIN_PAGE = 300
_BIN_GAIN = 25600  # calibration gain with offset 0: raw 12-bit units of 1/256 g
_BIN_RAW = (-2048, 2047)

# ActiGraph: log.bin records, one ACTIVITY record (12-bit y, x, z) per second.
_GT3X_SEPARATOR = 0x1E
_GT3X_ACTIVITY = 0x00
_GT3X_PARAMETERS = 0x15
_GT3X_SAMPLE_RATE = (1, 10)  # parameter (address space, identifier)
_GT3X_ACCEL_SCALE = (0, 55)
_GT3X_SCALE = 256  # raw units per g: 12 bits give +-8 g
_DOTNET_EPOCH_TICKS = 621_355_968_000_000_000  # 1970-01-01 in .NET ticks of 100 ns


def write_cwa(
    path,
    time,
    acceleration,
    *,
    sample_rate=100,
    range_g=8,
    temperature=None,
    device_id=12345,
    session_id=1,
    packed=False,
) -> None:
    """Write an Axivity AX3 .cwa file: 80 samples a sector of 16-bit axes, or 120 of 10-bit
    axes with a shared exponent when `packed`; `temperature` (one value per sample, C) is
    stored once per sector, as its first sample's."""
    t, g = _samples(path, time, acceleration)
    if sample_rate not in _CWA_RATES:
        raise DataError(f"{path}: sample rate {sample_rate} Hz is not one of an AX3's rates")
    if range_g not in _CWA_RANGES:
        raise DataError(f"{path}: range {range_g} g is not one of an AX3's ranges (2, 4, 8, 16)")
    rate_byte = _CWA_RATES[sample_rate] | _CWA_RANGES[range_g] << 6
    nanos = round(_NS / sample_rate)
    capacity = 120 if packed else 80
    starts = _blocks(t, nanos, capacity)
    scaled = np.clip(g, -range_g, range_g) * _CWA_SCALE
    sectors = np.zeros(len(starts), _CWA_SECTOR_FIELDS)
    sectors["magic"] = b"AX"
    sectors["length"] = _CWA_SECTOR - 4
    sectors["session"] = session_id
    sectors["sequence"] = np.arange(len(starts))
    sectors["battery"] = _CWA_BATTERY
    sectors["rate"] = rate_byte
    sectors["axes"] = 0x30 if packed else 0x32  # three axes; 0: packed, 2: two bytes each
    sectors["count"] = np.diff(starts, append=len(t))
    sectors["temperature"] = _cwa_temperature(_block_temperature(path, temperature, t, starts))
    times = _cwa_times(path, t[starts], nanos)
    sectors["timestamp"], sectors["fractional"], sectors["offset"] = times
    words = _cwa_packed(scaled) if packed else np.rint(scaled).astype("<i2")
    sectors["samples"] = _in_blocks(words, starts, capacity).view("V480")[:, 0]
    sectors["checksum"] = _cwa_checksum(sectors)
    header = _cwa_header(device_id, session_id, rate_byte, t[0] // _NS, t[-1] // _NS)
    Path(path).write_bytes(header + sectors.tobytes())


def write_bin(path, time, acceleration, *, sample_rate=100, temperature=None, serial="012345"):
    """Write a GENEActiv .bin file: pages of 300 samples of 12-bit axes (1/256 g, +-8 g), each
    with its own page time (to the millisecond) and temperature (to 0.1 C, its first
    sample's)."""
    t, g = _samples(path, time, acceleration)
    if not sample_rate > 0:
        raise DataError(f"{path}: sample rate {sample_rate} Hz is not positive")
    starts = _blocks(t, round(_NS / sample_rate), _BIN_PAGE)
    raw = np.clip(np.rint(g * _BIN_GAIN / 100), *_BIN_RAW).astype(np.int64) & 0xFFF
    # 48 bits a sample, most significant first: x, y, z (12 each), light (10), button, spare.
    bits = raw[:, 0] << 36 | raw[:, 1] << 24 | raw[:, 2] << 12
    hexes = bits.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 2:].tobytes().hex().upper()
    page_times = _bin_times(t[starts])
    temperatures = _block_temperature(path, temperature, t, starts)
    ends = np.append(starts[1:], len(t))
    frequency = f"{sample_rate:g}"
    lines = _bin_header(serial, frequency, page_times[0], len(starts))
    for page, (start, end) in enumerate(zip(starts, ends, strict=True)):
        lines += [
            "Recorded Data",
            f"Device Unique Serial Code:{serial}",
            f"Sequence Number:{page}",
            f"Page Time:{page_times[page]}",
            "Unassigned:",
            f"Temperature:{temperatures[page]:.1f}",
            "Battery voltage:4.0000",
            "Device Status:Recording",
            f"Measurement Frequency:{float(sample_rate):.1f}",
            hexes[12 * start : 12 * end],
        ]
    Path(path).write_text("\r\n".join(lines) + "\r\n", newline="")


def write_gt3x(path, time, acceleration, *, sample_rate=100, serial="TAS1E12345678") -> None:
    """Write an ActiGraph .gt3x file (info.txt and log.bin): one ACTIVITY record of 12-bit axes
    (1/256 g, +-8 g) per second that has samples, stamped with the whole second; readers space
    a record's samples at the nominal rate from it, so samples off that grid (a second begun
    mid-way, a wandering rate) come back moved onto it."""
    t, g = _samples(path, time, acceleration)
    if not (isinstance(sample_rate, int | np.integer) and sample_rate > 0):
        raise DataError(f"{path}: sample rate {sample_rate} Hz is not a positive whole number")
    raw = np.clip(np.rint(g * _GT3X_SCALE), *_BIN_RAW).astype(np.int64) & 0xFFF
    seconds = t // _NS
    starts = np.flatnonzero(np.diff(seconds, prepend=seconds[0] - 1))
    counts = np.diff(starts, append=len(t))
    if np.any(counts > sample_rate):
        second = t[starts[np.argmax(counts)]].astype("datetime64[ns]").astype("datetime64[s]")
        raise DataError(
            f"{path}: the second from {second} has {counts.max()} samples, more than a record "
            f"holds at {sample_rate} Hz"
        )
    payloads = _gt3x_activity(raw[:, [1, 0, 2]], starts)  # the record's axis order: y, x, z
    parameters = b"".join(
        struct.pack("<HHI", space, identifier, value)
        for (space, identifier), value in (
            (_GT3X_SAMPLE_RATE, sample_rate),
            (_GT3X_ACCEL_SCALE, _ssp_float(_GT3X_SCALE)),
        )
    )
    log = io.BytesIO()
    log.write(_gt3x_record(_GT3X_PARAMETERS, seconds[0], parameters))
    for start, payload in zip(starts, payloads, strict=True):
        log.write(_gt3x_record(_GT3X_ACTIVITY, seconds[start], payload))
    info = {
        "Serial Number": serial,
        "Device Type": "wGT3XBT",
        "Firmware": "1.9.2",
        "Battery Voltage": "4.00",
        "Sample Rate": str(sample_rate),
        "Start Date": str(_dotnet_ticks(seconds[0])),
        "Stop Date": "0",
        "Last Sample Time": str(_dotnet_ticks(seconds[-1] + 1)),
        "TimeZone": "00:00:00",
        "Download Date": str(_dotnet_ticks(seconds[-1] + 1)),
        "Board Revision": "5",
        "Unexpected Resets": "0",
        "Acceleration Scale": f"{_GT3X_SCALE:.1f}",
        "Acceleration Min": "-8.0",
        "Acceleration Max": "8.0",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("info.txt", "".join(f"{k}: {v}\r\n" for k, v in info.items()))
        archive.writestr("log.bin", log.getvalue())


def _samples(path, time, acceleration):
    """`time` as int64 nanoseconds and `acceleration` as (n, 3) floats, checked."""
    t = np.asarray(time).astype("datetime64[ns]").astype(np.int64)
    g = np.asarray(acceleration, dtype=np.float64)
    if g.ndim != 2 or g.shape[1] != 3 or len(g) != len(t) or len(t) == 0:
        raise DataError(
            f"{path}: acceleration of shape {g.shape} does not match {len(t)} sample times "
            "as (n, 3) with n > 0"
        )
    if np.any(np.diff(t) <= 0):
        raise DataError(f"{path}: sample times do not increase")
    return t, g


def _blocks(t, nanos, capacity):
    """Start indices of blocks of at most `capacity` samples, a new one after each gap."""
    steps = np.diff(t)
    gap = np.abs(steps - nanos) > nanos // 2
    run_start = np.flatnonzero(np.concatenate([[True], gap]))
    run_of = np.cumsum(np.concatenate([[True], gap])) - 1
    place = np.arange(len(t)) - run_start[run_of]
    return np.flatnonzero(place % capacity == 0)


def _places(starts, n):
    """Each sample's block and its place in that block."""
    block_of = np.repeat(np.arange(len(starts)), np.diff(starts, append=n))
    return block_of, np.arange(n) - starts[block_of]


def _in_blocks(values, starts, capacity):
    """`values` (one row a sample) laid out as bytes, `capacity` rows a block, zero-filled."""
    block_of, place = _places(starts, len(values))
    blocks = np.zeros((len(starts), capacity) + values.shape[1:], values.dtype)
    blocks[block_of, place] = values
    return blocks.reshape(len(starts), -1).view(np.uint8)


def _block_temperature(path, temperature, t, starts):
    """Each block's temperature: its first sample's, or the default where none is given."""
    if temperature is None:
        return np.full(len(starts), _DEFAULT_TEMPERATURE)
    temperature = np.asarray(temperature, dtype=np.float64)
    if temperature.shape != t.shape:
        raise DataError(
            f"{path}: temperature of shape {temperature.shape} does not give one value a sample"
        )
    return temperature[starts]


def _calendar(seconds):
    """Year, month, day, hour, minute and second of int64 seconds since 1970."""
    day = seconds.astype("datetime64[s]").astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]")
    of_day = seconds - day.astype("datetime64[s]").astype(np.int64)
    return (
        year.astype(np.int64) + 1970,
        month.astype(np.int64) % 12 + 1,
        (day - month).astype(np.int64) + 1,
        of_day // 3600,
        of_day // 60 % 60,
        of_day % 60,
    )


def _cwa_times(path, nanoseconds, nanos):
    """Each sector's packed timestamp, fraction field and timestamp offset for its first
    sample at `nanoseconds`, with samples `nanos` apart."""
    seconds, fractional = np.divmod(nanoseconds, _NS)
    # 15 bits of fraction: round to the nearest 1/32768 s, carrying into the seconds.
    fractional = (fractional * 32768 + _NS // 2) // _NS
    seconds += fractional >> 15
    fractional &= 0x7FFF
    first_year, last_year = _calendar(seconds[[0, -1]])[0]
    if first_year < 2000 or last_year > 2063:
        raise DataError(f"{path}: a .cwa file's times must lie in the years 2000 to 2063")
    # The whole-second timestamp is that of sample `offset` (before the first, here); readers
    # move it on by the fraction's whole samples at the firmware's whole-number rate.
    offset = -((fractional << 1) * (_NS // nanos) >> 16)
    return _cwa_timestamp(seconds), 0x8000 | fractional, offset  # top bit: a fraction is there


def _cwa_checksum(sectors):
    """The word that makes the sum of each sector's 256 little-endian words zero."""
    words = sectors.view(np.uint8).reshape(len(sectors), _CWA_SECTOR)[:, :-2].copy().view("<u2")
    return (-words.sum(axis=1, dtype=np.int64)) & 0xFFFF


def _cwa_timestamp(seconds):
    """Seconds since 1970 as CWA's packed local time (6-bit year from 2000, month, day, ...)."""
    year, month, day, hour, minute, second = _calendar(np.asarray(seconds, dtype=np.int64))
    packed = (year - 2000) << 26 | month << 22 | day << 17 | hour << 12 | minute << 6 | second
    return packed.astype(np.uint32)


def _cwa_temperature(celsius):
    """Degrees C as CWA's 10-bit code, the inverse of C = code * 75 / 256 - 50."""
    return np.clip(np.rint((celsius + 50) * 256 / 75), 0, 1023).astype(np.uint16)


def _cwa_packed(scaled):
    """Axes in units of 1/256 g as CWA's packed words: three 10-bit signed values and a shared
    2-bit exponent (left shift), the smallest at which all three fit once rounded."""
    exponent = np.full(len(scaled), 3, dtype=np.int64)
    for e in (2, 1, 0):
        shifted = np.rint(scaled / 2**e)
        exponent[np.all((shifted >= -512) & (shifted <= 511), axis=1)] = e
    value = np.rint(scaled / (1 << exponent)[:, None])
    value = np.clip(value, -512, 511).astype(np.int64) & 0x3FF
    words = exponent << 30 | value[:, 2] << 20 | value[:, 1] << 10 | value[:, 0]
    return words.astype("<u4")


def _cwa_header(device_id, session_id, rate_byte, first_second, last_second):
    """The 1024-byte "MD" metadata block; unused bytes are 0xFF as in erased flash."""
    header = bytearray(b"\xff" * _CWA_HEADER)
    start, end = _cwa_timestamp([first_second, last_second + 1])
    identity = (b"MD", _CWA_HEADER - 4, 0x00, device_id & 0xFFFF, session_id, device_id >> 16)
    struct.pack_into("<2sHBHIH", header, 0, *identity)  # hardware type 0x00: an AX3
    struct.pack_into("<III", header, 13, start, end, 0)  # logging start, end, capacity
    struct.pack_into("<B", header, 26, 0)  # LED flashing off
    struct.pack_into("<BIB", header, 36, rate_byte, start, 45)  # rate, last change, firmware
    struct.pack_into("<h", header, 42, -1)  # time zone unknown
    header[64:512] = b" " * 448  # an empty annotation
    return bytes(header)


def _bin_times(nanoseconds):
    """Nanoseconds as GENEActiv times, YYYY-MM-DD hh:mm:ss:mmm (rounded to the millisecond)."""
    ms = ((nanoseconds + 500_000) // 1_000_000).astype("datetime64[ms]")
    return [s.replace("T", " ").replace(".", ":") for s in np.datetime_as_string(ms, unit="ms")]


def _bin_header(serial, frequency, start_time, pages):
    """The 59 header lines of a GENEActiv .bin file."""
    return [
        "Device Identity",
        f"Device Unique Serial Code:{serial}",
        "Device Type:GENEActiv",
        "Device Model:1.2",
        "Device Firmware Version:Ver06.17 15June23",
        f"Calibration Date:{start_time}",
        "",
        "Device Capabilities",
        "Accelerometer Range:-8 to 8",
        "Accelerometer Resolution:0.0039",
        "Accelerometer Units:g",
        "Light Meter Range:0 to 20000",
        "Light Meter Resolution:3 to 48",
        "Light Meter Units:lux",
        "Temperature Sensor Range:0 to 70",
        "Temperature Sensor Resolution:0.1",
        "Temperature Sensor Units:deg. C",
        "",
        "Configuration Info",
        f"Measurement Frequency:{frequency} Hz",
        "Measurement Period:168 Hours",
        f"Start Time:{start_time}",
        "Time Zone:GMT +00:00",
        "",
        "Trial Info",
        "Study Centre:",
        "Study Code:",
        "Investigator ID:",
        "Exercise Type:",
        "Config Operator ID:",
        f"Config Time:{start_time}",
        "Config Notes:",
        "Extract Operator ID:",
        f"Extract Time:{start_time}",
        "Extract Notes:",
        "",
        "Subject Info",
        "Device Location Code:",
        "Subject Code:",
        "Date of Birth:1900-01-01",
        "Sex:",
        "Height:",
        "Weight:",
        "Handedness Code:",
        "Subject Notes:",
        "",
        "Calibration Data",
        f"x gain:{_BIN_GAIN}",
        "x offset:0",
        f"y gain:{_BIN_GAIN}",
        "y offset:0",
        f"z gain:{_BIN_GAIN}",
        "z offset:0",
        "Volts:1",
        "Lux:1",
        "",
        "Memory Status",
        f"Number of Pages:{pages}",
        "",
    ]


def _gt3x_activity(yxz, starts):
    """Each record's ACTIVITY payload: 36 bits a sample (12-bit y, x, z), most significant bit
    first, the last byte padded with zeros."""
    counts = np.diff(starts, append=len(yxz))
    # Pad each odd record with a zero sample, so samples pair into whole 9-byte groups.
    padded = counts + counts % 2
    first_of = np.cumsum(padded) - padded
    record_of, place = _places(starts, len(yxz))
    words = np.zeros(padded.sum(), dtype=np.int64)
    at = first_of[record_of] + place
    words[at] = yxz[:, 0] << 24 | yxz[:, 1] << 12 | yxz[:, 2]
    first, second = words[0::2], words[1::2]
    # 72 bits: first's 36 then second's 36, as a 4-byte and a 5-byte big-endian piece.
    high = (first >> 4).astype(">u4").view(np.uint8).reshape(-1, 4)
    low = ((first & 0xF) << 36 | second).astype(">u8").view(np.uint8).reshape(-1, 8)[:, 3:]
    stream = np.hstack([high, low]).tobytes()
    begins = first_of * 9 // 2
    return [
        stream[begin : begin + (count * 9 + 1) // 2]
        for begin, count in zip(begins, counts, strict=True)
    ]


def _gt3x_record(kind, second, payload):
    """One log record: separator, type, time, size, payload and the checksum byte (the ones'
    complement of the XOR of everything before it)."""
    record = struct.pack("<BBIH", _GT3X_SEPARATOR, kind, int(second), len(payload)) + payload
    return record + bytes([~np.bitwise_xor.reduce(np.frombuffer(record, np.uint8)) & 0xFF])


def _ssp_float(value):
    """A positive number in ActiGraph's SSP float: 24-bit signed significand (of 2^23) and an
    8-bit exponent."""
    exponent = int(np.floor(np.log2(value))) + 1
    return (exponent & 0xFF) << 24 | int(value / 2.0**exponent * 2**23) & 0xFFFFFF


def _dotnet_ticks(seconds):
    """Seconds since 1970 as .NET ticks (100 ns since year 1), as info.txt writes times."""
    return int(seconds) * 10_000_000 + _DOTNET_EPOCH_TICKS
