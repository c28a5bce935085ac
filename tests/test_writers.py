"""The device-file writers: what they write, actfast reads back as written, to each format's
resolution, gaps and a wandering true rate included."""

import actfast
import numpy as np
import pytest

from spectrohar.errors import DataError
from spectrohar.sources.writers import write_bin, write_cwa, write_gt3x

START = np.datetime64("2024-03-01T10:00:00", "ns")
# A .cwa sector's time: to the nearest 1/32768 s, which readers floor to the nanosecond.
CWA_TIME = 1e9 / 32768 / 2 + 1
STEP = 1 / 256  # every format's raw unit of acceleration, g


def recording(seconds, rate=100, *, start=START, true_rate=None, seed=0):
    """Sample times from `start` at `true_rate` (default `rate`), and acceleration in g: mostly
    within 2 g, with a few samples beyond 8 g to be clipped."""
    n = round(seconds * (true_rate or rate))
    time = start + np.round(np.arange(n) * 1e9 / (true_rate or rate)).astype("timedelta64[ns]")
    rng = np.random.default_rng(seed)
    acceleration = rng.normal(0, 0.6, (n, 3))
    acceleration[::97] *= 20
    return time, acceleration


def nanoseconds(time):
    return time.astype(np.int64)


def read(path, table):
    result = actfast.read(path)
    return result["metadata"], result["timeseries"][table]


@pytest.mark.parametrize(
    ("packed", "rate", "range_g", "per_sector"), [(False, 100, 8, 80), (True, 50, 4, 120)]
)
def test_cwa_reads_back_as_written(tmp_path, packed, rate, range_g, per_sector):
    time, acceleration = recording(150, rate, start=START + np.timedelta64(123456789, "ns"))
    temperature = np.linspace(21.0, 33.0, len(time))
    path = tmp_path / "r.cwa"
    settings = {"sample_rate": rate, "range_g": range_g, "temperature": temperature}
    write_cwa(path, time, acceleration, **settings, device_id=654321, session_id=77, packed=packed)
    metadata, samples = read(path, "high_frequency")
    identity = {"hardware_type": "AX3", "device_id": "654321", "session_id": "77"}
    assert metadata["device"].items() >= identity.items()
    assert metadata["configuration"]["sample_rate_hz"] == str(rate)
    assert metadata["configuration"]["accelerometer_range_g"] == str(range_g)
    np.testing.assert_allclose(samples["datetime"], nanoseconds(time), rtol=0, atol=CWA_TIME)
    clipped = np.clip(acceleration, -range_g, range_g)
    error = np.abs(samples["acceleration"] - clipped)
    small = np.abs(clipped).max(axis=1) < 1.99  # packed: full resolution below 2 g
    assert error[small].max() <= STEP / 2 + 1e-6
    assert error.max() <= (4 if packed else 1) * STEP / 2 + 1e-6  # 4: exponent 2, up to 4 g
    assert np.abs(samples["acceleration"]).max() == pytest.approx(range_g, abs=STEP)
    _, sectors = read(path, "low_frequency")
    np.testing.assert_array_equal(sectors["datetime"], samples["datetime"][::per_sector])
    np.testing.assert_allclose(sectors["temperature"], temperature[::per_sector], atol=75 / 512)


def test_bin_reads_back_as_written(tmp_path):
    time, acceleration = recording(120, start=START + np.timedelta64(250, "ms"))
    temperature = np.linspace(21.0, 33.0, len(time))
    path = tmp_path / "r.bin"
    write_bin(path, time, acceleration, temperature=temperature, serial="054321")
    metadata, samples = read(path, "high_frequency")
    assert metadata["Device Identity"]["Device Unique Serial Code"] == "054321"
    assert metadata["Configuration Info"]["Measurement Frequency"] == "100 Hz"
    assert metadata["Memory Status"]["Number of Pages"] == str(len(time) // 300)
    np.testing.assert_array_equal(samples["datetime"], nanoseconds(time))
    error = np.abs(samples["acceleration"] - np.clip(acceleration, -8, 2047 / 256))
    assert error.max() <= STEP / 2 + 1e-6
    _, pages = read(path, "low_frequency")
    np.testing.assert_allclose(pages["temperature"], temperature[::300], atol=0.05 + 1e-4)


def test_gt3x_reads_back_as_written(tmp_path):
    time, acceleration = recording(120, 30)
    path = tmp_path / "r.gt3x"
    write_gt3x(path, time, acceleration, sample_rate=30, serial="TAS1E00000042")
    metadata, samples = read(path, "acceleration")
    assert metadata["info"]["Serial Number"] == "TAS1E00000042"
    assert metadata["info"]["Sample Rate"] == "30"
    # Samples a third of a second apart: readers step 33333333 ns from each whole second.
    np.testing.assert_allclose(samples["datetime"], nanoseconds(time), rtol=0, atol=3)
    error = np.abs(samples["acceleration"] - np.clip(acceleration, -8, 2047 / 256))
    assert error.max() <= STEP / 2 + 1e-6


@pytest.mark.parametrize(
    ("write", "table", "after"),
    [
        (write_cwa, "high_frequency", 2050),  # mid-sector
        (write_bin, "high_frequency", 2050),  # mid-page
        (write_gt3x, "acceleration", 2000),  # a .gt3x second's samples start on the second
    ],
)
def test_a_gap_comes_back_with_no_samples_in_it(tmp_path, write, table, after):
    time, acceleration = recording(60)
    time[after:] += np.timedelta64(7, "s")
    path = tmp_path / f"r.{write.__name__[6:]}"
    write(path, time, acceleration)
    _, samples = read(path, table)
    np.testing.assert_allclose(samples["datetime"], nanoseconds(time), rtol=0, atol=CWA_TIME)
    in_gap = (samples["datetime"] > nanoseconds(time[after - 1])) & (
        samples["datetime"] < nanoseconds(time[after])
    )
    assert not in_gap.any()


@pytest.mark.parametrize(
    ("write", "per_block", "resolution"), [(write_cwa, 80, CWA_TIME), (write_bin, 300, 5e5)]
)
def test_a_wandering_rate_shows_in_the_blocks_own_times(tmp_path, write, per_block, resolution):
    time, acceleration = recording(90, true_rate=97)  # a clock 3 % slow of the nominal 100 Hz
    path = tmp_path / f"r.{write.__name__[6:]}"
    write(path, time, acceleration, sample_rate=100)
    _, blocks = read(path, "low_frequency")
    _, samples = read(path, "high_frequency")
    first = nanoseconds(time[::per_block])
    np.testing.assert_allclose(blocks["datetime"], first, rtol=0, atol=resolution)
    # Within a block the samples are at the nominal 10 ms.
    assert set(np.diff(samples["datetime"][:per_block])) == {10_000_000}
    assert len(samples["datetime"]) == len(time)


def test_a_gt3x_second_holds_no_more_samples_than_the_rate(tmp_path):
    time, acceleration = recording(5, 30, true_rate=31)
    with pytest.raises(DataError, match=r"r\.gt3x: the second from 2024-03-01T10:00:00 has 31 "):
        write_gt3x(tmp_path / "r.gt3x", time, acceleration, sample_rate=30)


def test_a_cwa_rate_an_ax3_lacks_is_refused(tmp_path):
    time, acceleration = recording(2)
    with pytest.raises(DataError, match=r"r\.cwa: sample rate 60 Hz is not one of an AX3's"):
        write_cwa(tmp_path / "r.cwa", time, acceleration, sample_rate=60)


def test_times_that_do_not_increase_are_refused(tmp_path):
    time, acceleration = recording(2)
    time[5] = time[4]
    with pytest.raises(DataError, match=r"r\.bin: sample times do not increase"):
        write_bin(tmp_path / "r.bin", time, acceleration)
