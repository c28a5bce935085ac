"""Reading the spectrogram cache: the labelled windows of chosen participants, across the
participants' stores, in batches.

Held in memory as one tensor when they fit the budget; otherwise read a few whole zarr chunks at
a time (every read call costs about a millisecond, so single random windows would crawl). Either
way an epoch goes through buffers of a few chunks, in shuffled chunk order and then shuffled
within each buffer, so that a seed gives the same batches however the split is held.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch
import xarray as xr
import zarr
from zarr.buffer.cpu import NDBuffer

from spectrohar.cache.stores import decoding, open_store
from spectrohar.errors import DataError
from spectrohar.sources.labels import labelled_windows


class Spectrograms:
    """The spectrograms of the windows of `participants` in the spectrogram stores at the paths
    `stores`, labelled by `labelling` (annotations -> labels, None for a window left out), with
    their labels' class codes in `classes` (-1 for a label outside them; None: the sorted labels
    of these windows). They are held in memory if they fit `memory_budget_mb`, else streamed,
    read on `threads` threads (the rule's, not the machine's). A chunk is one chunk of one
    store, numbered store by store."""

    def __init__(
        self,
        stores,
        participants,
        classes,
        labelling,
        *,
        memory_budget_mb,
        threads=1,
        buffer_chunks=32,  # ~8,000 windows: 8 chunks mixed too little (default kappa 0.73 vs 0.77)
    ):
        self.paths, self.arrays, self.attrs, coords = [], [], {}, []
        store, index, chunk = [], [], []
        for path in stores:
            ds = open_store(path)
            mine, label = labelled_windows(ds, participants, labelling)
            if not len(mine):
                continue
            array = zarr.open_group(path, mode="r")["spectrogram"]
            if self.arrays and array.shape[1:] != self.arrays[0].shape[1:]:
                raise DataError(
                    f"{path}: spectrograms of shape {array.shape[1:]}, but those of "
                    f"{self.paths[0]} are {self.arrays[0].shape[1:]}: rebuild both with one "
                    "config (snakemake --cores 8)"
                )
            first_chunk = chunk[-1][-1] + 1 if chunk else 0  # after those numbered so far
            store.append(np.full(len(mine), len(self.arrays)))
            index.append(mine)
            chunk.append(first_chunk + mine // array.chunks[0])
            coords.append(
                ds[["participant", "window_start", "annotation"]]
                .isel(window=mine)
                .assign_coords(label=("window", label[mine]))
            )
            self.paths.append(path)
            self.arrays.append(array)
            self.attrs = ds.attrs
        self.store, self.index, self.chunk = (
            np.concatenate(part) if part else np.zeros(0, int) for part in (store, index, chunk)
        )
        self.coords = xr.concat(coords, dim="window") if coords else None
        labels = self.coords.label.values if coords else np.zeros(0, object)
        self.classes = sorted(set(labels)) if classes is None else list(classes)
        codes = pd.Index(self.classes).get_indexer(labels)
        self.y = torch.from_numpy(codes.astype(np.int64))
        self.shape = self.arrays[0].shape[1:] if self.arrays else ()
        self.buffer_chunks = buffer_chunks
        self.threads = threads
        window_bytes = np.prod(self.shape) * 4
        self.in_memory = len(self) * window_bytes <= memory_budget_mb * 2**20
        self.x = torch.from_numpy(self._read(np.arange(len(self)))) if self.in_memory else None

    def to(self, device, dtype=torch.float32) -> "Spectrograms":
        """Hold an in-memory split on `device` as `dtype`; its batches are then indexed there
        and come as float32."""
        if self.in_memory:
            self.x, self.y = self.x.to(device, dtype), self.y.to(device)
        return self

    def __len__(self) -> int:
        return len(self.index)

    def _read(self, positions, out=None) -> np.ndarray:
        """Float32 windows at `positions` in the split (sorted), read as runs of consecutive
        windows within a chunk (zarr reads one chunk at a time fastest) straight into `out` or a
        new array: zarr decodes into it, with no array of its own to copy from."""
        if out is None:
            out = np.empty((len(positions), *self.shape), dtype=np.float32)
        store, index, chunk = self.store[positions], self.index[positions], self.chunk[positions]
        starts = np.flatnonzero((np.diff(index) != 1) | (np.diff(chunk) != 0))
        bounds = zip([0, *(starts + 1)], [*(starts + 1), len(index)], strict=True)

        def read(run):  # zarr decodes outside the GIL, so runs are read in parallel
            first, last = run
            path, array = self.paths[store[first]], self.arrays[store[first]]
            with decoding(path, array, (index[first] // array.chunks[0], 0, 0, 0)):
                array.get_basic_selection(
                    slice(index[first], index[last - 1] + 1),
                    out=NDBuffer.from_numpy_array(out[first:last]),
                )

        if len(positions):
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(read, bounds))
        return out

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
        buffer = np.empty((largest, *self.shape), np.float32)
        for group, order in epoch:
            x, y = self._read(group, buffer[: len(group)]), self.y[group]
            for part in _parts(order, batch_size):
                # numpy's fancy indexing: torch's on the CPU copies ten times slower
                yield torch.from_numpy(x[part]), y[part]

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
        chunks, chunk_of = np.unique(self.chunk, return_inverse=True)
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
