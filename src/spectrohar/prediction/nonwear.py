"""Non-wear per window, by van Hees et al.'s rule (2013) as GGIR applies it.

The thresholds are van Hees 2013's as GGIR sets them (`detect_nonwear_clipping`: `sdcriter`
13 mg, `racriter` 50 mg; `g.weardec`'s `wearthreshold` 2), and the windows GGIR's
`nonwear_approach = "2023"`, its default since GGIR 3.0:

- Time is cut into 15-minute blocks on the timestamps' clock (00:00, 00:15, ...); a 30 s window
  belongs to the block its start falls in. Windows that overlap (a step apart, less than their
  length) each give the statistics of their first step of samples, the time they stand for, so
  that blocks and hours hold each sample once, as they do without overlap.
- A 60-minute window starts at every block. An axis is still in it when both its standard
  deviation (over every sample, n - 1 in the denominator as R's `sd`) is below 13 mg and its
  value range is below 50 mg: GGIR's code tests both, the range and within it the deviation.
- An axis of a block is still when it is still in any 60-minute window holding the block (the
  four starting at the block and at each of the three blocks before it); the block's score is
  its count of still axes. A block scoring 1 between two blocks scoring more scores 2, as in
  GGIR. A block scoring at least 2 is non-wear, and so is every window in it.

Unlike GGIR, a 60-minute window is judged only when none of its 30 s windows is missing: the
rule needs the whole hour to tell a device lying still from a sleeping wearer, and fewer samples
would let a short still stretch pass (GGIR judges the shortened last hours of a recording). So a
block that no complete hour holds, such as a part-filled block at either end of the recording or
a block with a gap in it, counts as worn; inside a long non-wear stretch a missing window costs
only its own block's flag. Time without windows is no data, not non-wear (see `daily`).
Neither GGIR's later rescoring of short wear between non-wear (part 2) nor its 5 Hz
subsampling is applied. GGIR's own range threshold (`nonwear_range_threshold`) is 150 mg by
default, 50 mg only in GGIR 3.1-3 and 3.1-4; 50 mg is kept here, the papers' value.

The maths runs on per-window statistics (`window_statistics`) combined exactly into block and
hour statistics with Chan et al.'s pairwise formula for centred sums of squares in float64: the
samples are read once, and the statistics of a week of 30 s windows combine in about 10 ms.
"""

import numpy as np
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view

from spectrohar.cache.layout import WINDOW_DIMS, window_length
from spectrohar.settings import NonWearRule

DEFAULT_RULE = NonWearRule()  # the default config's


def window_statistics(acceleration, step_samples=None) -> xr.Dataset:
    """Per window and axis of (window, sample, axis) `acceleration` in g, over its first
    `step_samples` samples (windows that overlap: those up to the next window's start; None:
    all): the mean, the sum of squares about it (`m2`), the minimum and the maximum, in float64;
    the samples per window in the attributes."""
    # Axis-major: reductions along contiguous samples are several times faster.
    a = np.ascontiguousarray(np.asarray(acceleration)[:, :step_samples].transpose(0, 2, 1))
    mean = a.mean(axis=2, dtype=np.float64)
    centred = a - mean[:, :, None]
    dims = (WINDOW_DIMS[0], WINDOW_DIMS[2])
    return xr.Dataset(
        {
            "mean": (dims, mean),
            "m2": (dims, np.einsum("was,was->wa", centred, centred)),
            "min": (dims, a.min(axis=2).astype(np.float64)),
            "max": (dims, a.max(axis=2).astype(np.float64)),
        },
        attrs={"samples_per_window": a.shape[2]},
    )


def hour_statistics(statistics, window_start, window_step_s, rule=DEFAULT_RULE) -> xr.Dataset:
    """Per (hour, axis), for the `rule.window_minutes` hour starting at each block from the
    first window's: the standard deviation and value range of the samples of the windows
    starting in it, and whether none of its windows is missing (`complete`), from the windows'
    `window_statistics`, starts (datetime64, increasing) and step between starts in seconds."""
    start = np.asarray(window_start, dtype="datetime64[ns]").view("int64")
    step_ns = rule.step_minutes * 60 * 10**9
    window_step_ns = window_length(window_step_s).astype("int64")
    if step_ns % window_step_ns:
        raise ValueError(
            f"windows every {window_step_s} s do not fill {rule.step_minutes}-minute blocks evenly"
        )
    if np.any(np.diff(start) < window_step_ns):
        raise ValueError("window starts must increase by at least the windows' step")
    if start.size == 0:
        raise ValueError("no windows to judge")
    n = statistics.attrs["samples_per_window"]
    mean, m2 = statistics["mean"].values, statistics["m2"].values
    blocks_per_hour = rule.window_minutes // rule.step_minutes

    # Blocks on the clock, with empty ones after the last so an hour starts at every block.
    block = start // step_ns
    first = block[0]
    block -= first
    n_blocks = block[-1] + blocks_per_hour
    count = np.bincount(block, minlength=n_blocks)[:, None]
    block_mean = np.zeros((n_blocks, mean.shape[1]))
    np.add.at(block_mean, block, mean)
    np.divide(block_mean, count, out=block_mean, where=count > 0)
    block_m2 = np.zeros_like(block_mean)
    np.add.at(block_m2, block, m2 + n * (mean - block_mean[block]) ** 2)
    block_min = np.full_like(block_mean, np.inf)
    np.minimum.at(block_min, block, statistics["min"].values)
    block_max = np.full_like(block_mean, -np.inf)
    np.maximum.at(block_max, block, statistics["max"].values)

    def hour(x):  # (hour, axis, block in the hour)
        return sliding_window_view(x, blocks_per_hour, axis=0)

    windows = hour(count).sum(axis=-1)
    hour_mean = (hour(count) * hour(block_mean)).sum(axis=-1) / np.maximum(windows, 1)
    deviation = hour(block_mean) - hour_mean[..., None]
    hour_m2 = hour(block_m2).sum(axis=-1) + n * (hour(count) * deviation**2).sum(axis=-1)
    hour_start = (first + np.arange(len(windows))) * step_ns
    return xr.Dataset(
        {
            "std": (
                ("hour", "axis"),
                np.sqrt(hour_m2 / np.maximum(n * windows - 1, 1)),
                {"units": "g"},
            ),
            "range": (
                ("hour", "axis"),
                hour(block_max).max(axis=-1) - hour(block_min).min(axis=-1),
                {"units": "g"},
            ),
            "complete": ("hour", windows[:, 0] == blocks_per_hour * step_ns // window_step_ns),
        },
        coords={"hour_start": ("hour", hour_start.astype("datetime64[ns]"))},
    )


def non_wear(statistics, window_start, window_step_s, rule=DEFAULT_RULE) -> np.ndarray:
    """Whether each window is non-wear under `rule`, from the windows' `window_statistics`,
    starts (datetime64, increasing) and step between starts in seconds."""
    hours = hour_statistics(statistics, window_start, window_step_s, rule)
    still = (
        hours["complete"].values[:, None]
        & (hours["std"].values < rule.std_mg / 1000)
        & (hours["range"].values < rule.range_mg / 1000)
    )
    # A block's axis is still if it is in any hour holding the block: those starting at it
    # and at the blocks before it, hours before the first block never still.
    blocks_per_hour = rule.window_minutes // rule.step_minutes
    before = np.zeros((blocks_per_hour - 1, still.shape[1]), dtype=bool)
    held = sliding_window_view(np.concatenate([before, still]), blocks_per_hour, axis=0)
    score = held.any(axis=-1).sum(axis=1)
    lone = (score[1:-1] == 1) & (score[:-2] > 1) & (score[2:] > 1)
    score[1:-1][lone] = 2
    block = np.asarray(window_start, dtype="datetime64[ns]") - hours["hour_start"].values[:1]
    block = block // np.timedelta64(rule.step_minutes, "m")
    return (score >= rule.axes_still)[block]
