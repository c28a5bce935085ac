"""Reading the spectrogram cache: the windows of chosen participants, in batches.

Held in memory as one tensor when they fit the budget; otherwise read a few whole zarr chunks at
a time (every read call costs about a millisecond, so single random windows would crawl). Either
way an epoch goes through buffers of a few chunks, in shuffled chunk order and then shuffled
within each buffer, so that a seed gives the same batches however the split is held.
"""

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch
import zarr

from spectrohar.stores import decoding, open_store


class Spectrograms:
    """The spectrograms of the windows of `participants` in the spectrogram store at `path`,
    with their labels' class codes in `classes` (-1 for a label outside them)."""

    def __init__(self, path, participants, classes, *, memory_budget_mb=4000, buffer_chunks=8):
        ds = open_store(path)
        self.index = np.flatnonzero(np.isin(ds.participant.values, list(participants)))
        self.coords = ds[["participant", "window_start", "label"]].isel(window=self.index)
        codes = pd.Index(classes).get_indexer(self.coords.label.values.astype(object))
        self.y = torch.from_numpy(codes.astype(np.int64))
        self.path = path
        self.array = zarr.open_group(path, mode="r")["spectrogram"]
        self.buffer_chunks = buffer_chunks
        self.threads = len(os.sched_getaffinity(0))
        window_bytes = np.prod(self.array.shape[1:]) * 4
        self.in_memory = len(self.index) * window_bytes <= memory_budget_mb * 2**20
        self.x = self._read(self.index) if self.in_memory else None

    def to(self, device, dtype=torch.float32) -> "Spectrograms":
        """Hold an in-memory split on `device` as `dtype`; its batches are then indexed there
        and come as float32."""
        if self.in_memory:
            self.x, self.y = self.x.to(device, dtype), self.y.to(device)
        return self

    def __len__(self) -> int:
        return len(self.index)

    def _read(self, index, out=None) -> torch.Tensor:
        """Float32 windows at `index` (sorted), read as runs of consecutive windows within a
        chunk (zarr reads one chunk at a time fastest) straight into `out` or a new array."""
        if out is None:
            out = np.empty((len(index), *self.array.shape[1:]), dtype=np.float32)
        starts = np.flatnonzero((np.diff(index) != 1) | (index[1:] % self.array.chunks[0] == 0))
        bounds = zip([0, *(starts + 1)], [*(starts + 1), len(index)], strict=True)

        def read(run):  # zarr decodes outside the GIL, so runs are read in parallel
            first, last = run
            with decoding(self.path, self.array, (index[first] // self.array.chunks[0], 0, 0, 0)):
                out[first:last] = self.array[index[first] : index[last - 1] + 1]

        if len(index):
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(read, bounds))
        return torch.from_numpy(out)

    def batches(self, batch_size, rng=None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) batches of up to `batch_size` windows, shuffled by `rng` (in store order
        without one): the same `rng` gives the same batches whether the split is held in
        memory or streamed."""
        epoch = self._epoch(rng)
        if self.in_memory:
            for group, order in epoch:
                positions = torch.from_numpy(group[order]).to(self.x.device)
                for part in _parts(positions, batch_size):
                    yield self.x[part].float(), self.y[part]
            return
        # One buffer for the epoch: fresh memory costs a page fault per 4 KiB on first touch.
        largest = max((len(group) for group, _ in epoch), default=0)
        buffer = np.empty((largest, *self.array.shape[1:]), np.float32)
        for group, order in epoch:
            x, y = self._read(self.index[group], buffer[: len(group)]), self.y[group]
            for part in _parts(order, batch_size):
                yield x[part], y[part]

    def _epoch(self, rng) -> list[tuple[np.ndarray, np.ndarray]]:
        """The epoch's order, whichever way the split is held: for each buffer of
        `_chunk_groups`, the positions in the split of its windows and their order within it,
        shuffled by `rng`. A streamed split is read a buffer at a time (a read call costs about
        a millisecond), so windows are shuffled within a buffer, not across the split."""
        return [
            (group, rng.permutation(len(group)) if rng is not None else np.arange(len(group)))
            for group in self._chunk_groups(rng)
        ]

    def _chunk_groups(self, rng) -> list[np.ndarray]:
        """Positions in the split of the windows in each buffer of `buffer_chunks` chunks, in
        chunk order shuffled by `rng`; a buffer of one window joins its neighbour (batch
        normalisation cannot train on a single window)."""
        # Each window's chunk, numbered among the split's chunks, and each chunk's turn.
        chunks, chunk_of = np.unique(self.index // self.array.chunks[0], return_inverse=True)
        chunk_order = np.arange(len(chunks))
        if rng is not None:
            rng.shuffle(chunk_order)
        turn = np.empty_like(chunk_order)
        turn[chunk_order] = np.arange(len(chunks))
        buffer_of = turn[chunk_of] // self.buffer_chunks
        by_buffer = np.argsort(buffer_of, kind="stable")  # and by position within a buffer
        starts = np.flatnonzero(np.diff(buffer_of[by_buffer])) + 1
        groups = []
        for group in np.split(by_buffer, starts) if len(by_buffer) else ():
            if groups and 1 in (len(group), len(groups[-1])):
                groups[-1] = np.union1d(groups[-1], group)
            else:
                groups.append(group)
        return groups


def _parts(order, batch_size) -> list:
    """`order` in pieces of `batch_size`, a last piece of one window joined to the one before
    (batch normalisation cannot train on a single window)."""
    bounds = list(range(0, len(order), batch_size))[1:]
    if bounds and len(order) - bounds[-1] == 1:
        bounds.pop()
    return [
        order[start:stop] for start, stop in zip([0, *bounds], [*bounds, len(order)], strict=True)
    ]
