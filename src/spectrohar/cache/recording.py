"""A recording as the windows stage takes it: the `Recording` a reader gives, piece by piece, and
the `Spill` it is written to once, into a temporary folder, to be read back a piece at a time.

A week at 100 Hz is 60 million samples: a reader yields it in pieces (sources.recordings), the
spill keeps them on disk, and what needs the whole recording (its rows, digest, median step and
median vector magnitude, the hours it covers) is gathered while they are written. Nothing here
holds more than a piece, and what it gathers does not depend on where the pieces were cut.
"""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from spectrohar.cache.layout import AXES, NO_OFFSET

GAP = 2  # a step between timestamps over GAP times the median step is a gap in the recording
INDEX_EVERY = 4096  # samples between the times kept in memory to find a time on disk
BINS = 1 << 20  # step values counted in one array: 1 ms of steps differing by 1 ns
MAGNITUDE_EVERY = 16  # the median vector magnitude is that of every 16th sample
FILES = {  # file name: dtype, values per sample
    "time": (np.int64, 1),
    "acceleration": (np.float32, len(AXES)),
    "temperature": (np.float32, 1),
    "annotation": (np.int32, 1),
}


@dataclasses.dataclass(frozen=True)
class Recording:
    """One recording, or a piece of one, as read from its file: `time` (datetime64[ns],
    increasing, on the clock `time_zone` names), `acceleration` (n, 3) float32 as written,
    `annotation` (categorical, NA where unannotated); for a device file, each sample's
    `temperature` (degrees C, None where the device records none) and `device`, its description
    (the store's device_* attributes; None for a CSV file)."""

    time: np.ndarray
    acceleration: np.ndarray
    annotation: pd.Series
    time_zone: str = NO_OFFSET
    temperature: np.ndarray | None = None
    device: dict | None = None


def finite_median(values) -> float:
    """The median of the finite among `values` (NaN where none is)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


class StepCounts:
    """How often each step between consecutive timestamps occurs (int64 ns), merged piece by
    piece: the exact median of a week's 60 million steps from a few thousand distinct ones."""

    def __init__(self):
        self.values = np.empty(0, np.int64)
        self.counts = np.empty(0, np.int64)

    def add(self, steps) -> None:
        if not len(steps):
            return
        # Counted by bincount within BINS of the shortest (a sort of 60 million is slow), the
        # few longer ones (gaps) by sorting.
        low = steps.min()
        near = steps - low < BINS
        binned = np.bincount(steps[near] - low)
        present = np.flatnonzero(binned)
        far, far_counts = np.unique(steps[~near], return_counts=True)
        values = np.concatenate([present + low, far])
        counts = np.concatenate([binned[present], far_counts])
        merged, inverse = np.unique(np.concatenate([self.values, values]), return_inverse=True)
        self.counts = np.bincount(
            inverse, np.concatenate([self.counts, counts]), minlength=len(merged)
        ).astype(np.int64)
        self.values = merged

    def median(self) -> float:
        """The median step, as np.median of the steps gives it (NaN without any)."""
        total = int(self.counts.sum())
        if not total:
            return float("nan")
        ends = np.cumsum(self.counts)
        lower, upper = self.values[np.searchsorted(ends, [(total - 1) // 2 + 1, total // 2 + 1])]
        return (int(lower) + int(upper)) / 2

    def covered_ns(self, median) -> float:
        """The time the steps cover, each at most GAP times `median`, a longer one (a gap)
        counting `median`."""
        return float(
            (np.where(self.values > GAP * median, median, self.values) * self.counts).sum()
        )


@dataclasses.dataclass
class Spill:
    """A recording written to `folder`, one array a file (FILES), read back by row (`read`) or
    found by time (`rows_before`), with what needs the whole of it: `rows`, `digest` (SHA-256
    of its times' and accelerations' digests: the same samples under two names have the same
    one), the `median_step` in ns, the `median_magnitude` of its accelerations as written,
    `hours_recorded` (each sample covering the step to the next, a gap or the last sample one
    median step) and `hours_annotated`, the `time_zone` of its first piece, the `device` of its
    last (which describes the whole file)."""

    folder: Path
    rows: int = 0
    time_zone: str = NO_OFFSET
    device: dict | None = None
    has_temperature: bool = False
    categories: list = dataclasses.field(default_factory=list)
    index: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.int64))
    digest: str = ""
    median_step: float = float("nan")
    median_magnitude: float = float("nan")
    hours_recorded: float = 0.0
    hours_annotated: float = 0.0

    @classmethod
    def write(cls, folder, pieces) -> "Spill":
        """The spill of the recording read as `pieces` (Recordings, in order) into `folder`."""
        spill = cls(Path(folder))
        hashes = {"time": hashlib.sha256(), "acceleration": hashlib.sha256()}
        steps, annotated_steps = StepCounts(), StepCounts()
        codes, magnitudes, index = {}, [], []
        last_time, last_annotated = None, False
        files = {name: open(spill.folder / name, "wb") for name in FILES}  # noqa: SIM115
        try:
            for number, piece in enumerate(pieces):
                if number == 0:
                    spill.time_zone = piece.time_zone
                    spill.has_temperature = piece.temperature is not None
                spill.device = piece.device
                if not len(piece.time):
                    continue
                t = np.ascontiguousarray(piece.time).view(np.int64)
                acceleration = np.ascontiguousarray(piece.acceleration, np.float32)
                annotation = piece.annotation.astype("category")
                annotated = annotation.notna().to_numpy()
                index.append(t[(-spill.rows) % INDEX_EVERY :: INDEX_EVERY])
                chosen = acceleration[(-spill.rows) % MAGNITUDE_EVERY :: MAGNITUDE_EVERY]
                magnitudes.append(np.linalg.norm(chosen, axis=1))
                # Each sample's step is to the next one: the previous piece's last sample's
                # step ends at this piece's first.
                before = [] if last_time is None else [last_time]
                step = np.diff(np.concatenate([np.array(before, np.int64), t]))
                flags = np.concatenate([np.array([last_annotated] * len(before)), annotated[:-1]])
                steps.add(step)
                annotated_steps.add(step[flags.astype(bool)])
                last_time, last_annotated = t[-1], annotated[-1]
                for name, values in (("time", t), ("acceleration", acceleration)):
                    hashes[name].update(values.view(np.uint8))
                    values.tofile(files[name])
                if piece.temperature is not None:
                    np.asarray(piece.temperature, np.float32).tofile(files["temperature"])
                categories = annotation.cat.categories
                for category in categories:
                    codes.setdefault(category, len(codes))
                mapping = np.append(np.array([codes[c] for c in categories], np.int32), -1)
                mapping[annotation.cat.codes.to_numpy()].astype(np.int32).tofile(
                    files["annotation"]
                )
                spill.rows += len(t)
        finally:
            for file in files.values():
                file.close()
        spill.categories = list(codes)
        spill.index = np.concatenate([np.empty(0, np.int64), *index])
        spill.digest = hashlib.sha256(b"".join(h.digest() for h in hashes.values())).hexdigest()
        spill.median_magnitude = finite_median(np.concatenate([np.empty(0), *magnitudes]))
        median = steps.median()
        spill.median_step = median
        if spill.rows:
            last = median if last_annotated else 0.0
            spill.hours_recorded = (steps.covered_ns(median) + median) / 3.6e12
            spill.hours_annotated = (annotated_steps.covered_ns(median) + last) / 3.6e12
        return spill

    def _array(self, name, start, stop) -> np.ndarray:
        dtype, width = FILES[name]
        size = np.dtype(dtype).itemsize * width
        values = np.fromfile(
            self.folder / name, dtype, count=(stop - start) * width, offset=start * size
        )
        return values.reshape(-1, width) if width > 1 else values

    def read(self, start, stop) -> Recording:
        """Rows `start` to `stop` (not included) as a Recording, annotations' categories in
        sorted order (a window's tied annotations go to the first)."""
        start, stop = max(start, 0), min(stop, self.rows)
        stop = max(stop, start)
        order = np.argsort(np.array(self.categories, dtype=object)).astype(np.int32)
        rank = np.append(np.argsort(order).astype(np.int32), -1)
        codes = rank[self._array("annotation", start, stop)]
        categories = [self.categories[i] for i in order]
        return Recording(
            time=self._array("time", start, stop).view("datetime64[ns]"),
            acceleration=self._array("acceleration", start, stop),
            annotation=pd.Series(pd.Categorical.from_codes(codes, categories)),
            time_zone=self.time_zone,
            temperature=self._array("temperature", start, stop) if self.has_temperature else None,
            device=self.device,
        )

    def first_time(self) -> int:
        return int(self.index[0])

    def last_time(self) -> int:
        return int(self._array("time", self.rows - 1, self.rows)[0])

    def rows_before(self, time_ns, side="left") -> int:
        """The number of samples before `time_ns` (side right: at or before it)."""
        block = int(np.searchsorted(self.index, time_ns, side)) - 1
        if block < 0:
            return 0
        start = block * INDEX_EVERY
        times = self._array("time", start, min(start + INDEX_EVERY, self.rows))
        return start + int(np.searchsorted(times, time_ns, side))
