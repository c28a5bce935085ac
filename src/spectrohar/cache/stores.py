"""Writing, checking and describing the pipeline's zarr v3 stores.

Every chunk is written, even one that holds only the fill value, and carries a crc32c checksum,
so that a store is read only when every chunk file exists and every chunk read is as written.
"""

import json
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from spectrohar.errors import DataError
from spectrohar.versions import versions

STRING = np.dtypes.StringDType()


# Accelerations and log spectra barely compress (1.1-1.3x); LZ4 after a byte shuffle gets most of
# that at memory speed, where zarr's default Zstd costs more time than the stage's STFT. LZ4 has
# no checksum of its own: crc32c after it makes a changed byte an error rather than a changed value.
CODECS = (
    zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
    zarr.codecs.Crc32cCodec(),
)

# What zarr raises for a chunk that fails its crc32c checksum and for one Blosc cannot decompress.
CHECKSUM_ERROR, DECOMPRESSION_ERROR = ValueError, RuntimeError

# The layout the stores are written in, raised when what a store holds changes, so that a store of
# an older layout is refused rather than misread (2: windows carry their step, window_step_s).
LAYOUT = 2

REBUILD = (
    "the store is incomplete or damaged; delete it and rerun snakemake to rebuild it "
    "(rm -r {path} && snakemake --cores 8)"
)


def write_dataset(ds: xr.Dataset, path, chunks=None) -> None:
    """Write `ds` as a zarr v3 group with consolidated metadata, replacing what was there;
    `chunks` gives the chunk shape of large variables."""
    encoding = {name: {"compressors": CODECS} for name in ds.variables}
    for name, shape in (chunks or {}).items():
        # No _FillValue: every element is written, and without one xarray reads the array as it
        # is rather than through a masked copy (2.5x slower).
        encoding[name].update(chunks=shape, _FillValue=None)
    with warnings.catch_warnings():
        # zarr warns that consolidated metadata is not yet in the v3 spec; xarray reads it fine.
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        # Which packages made the store, in which layout.
        ds.assign_attrs(versions=versions(), layout=LAYOUT).to_zarr(
            path,
            mode="w",
            zarr_format=3,
            consolidated=True,
            encoding=encoding,
            write_empty_chunks=True,  # so that a missing chunk file means an incomplete store
        )


def open_store(path) -> xr.Dataset:
    """A complete store as a lazy xarray Dataset, its arrays read as written (nothing is
    masked) and its coordinates already read; else a DataError."""
    group = _group(path)
    if group.attrs.get("layout") != LAYOUT:
        raise DataError(
            f"{path}: is a store of layout {group.attrs.get('layout', 1)}, written by an older "
            f"spectrohar; this one reads layout {LAYOUT}: rebuild the stores "
            "(snakemake --cores 8 --forcerun windows)"
        )
    for _, array in group.arrays():
        _check_complete(path, array)
    # Coordinates are read here, where a damaged chunk of one is found, not later by each reader.
    with reading(path):
        ds = xr.open_zarr(path, use_zarr_fill_value_as_mask=False)
        return ds.assign_coords({name: coord.compute() for name, coord in ds.coords.items()})


def store_paths(stores) -> list[Path]:
    """The stores `stores` names: a folder's every *.zarr, by name, or a list of their paths."""
    if isinstance(stores, str | Path) and Path(stores).suffix != ".zarr":
        found = sorted(Path(stores).glob("*.zarr"))
        if not found:
            raise DataError(f"{stores}: no zarr stores in this folder")
        return found
    return [Path(stores)] if isinstance(stores, str | Path) else [Path(p) for p in stores]


def open_spectrograms(stores) -> xr.Dataset:
    """The spectrogram stores `stores` names (a folder, e.g. results/spectrograms, or a list of
    store paths) as one lazy Dataset (window, channel, frequency, frame), windows in store order,
    each with its participant, window_start and annotation; wrap reads in `reading(*paths)`."""
    parts = [open_store(path) for path in store_paths(stores)]
    # Each store's chunks stay its own: nothing is rechunked across participants.
    return xr.concat(parts, dim="window", combine_attrs="drop_conflicts", join="exact")


@contextmanager
def reading(*paths):
    """Reads of the stores at `paths` through xarray or dask: a chunk that fails its checksum or
    cannot be decompressed stops them with the DataError of the first damaged chunk."""
    try:
        yield
    except DataError:
        raise
    except (CHECKSUM_ERROR, DECOMPRESSION_ERROR):
        # dask does not say which chunk failed: read each one until the damaged one is found.
        for path in paths:
            for _, array in _group(path).arrays():
                for chunk in np.ndindex(*array.cdata_shape):
                    with decoding(path, array, chunk):
                        array.get_block_selection(chunk)
        raise  # no chunk is damaged: the error is another one


@contextmanager
def decoding(path, array: zarr.Array, chunk: tuple[int, ...]):
    """A read of `chunk` (its position in the chunk grid) of `array` in the store at `path`: if
    the chunk fails its checksum or cannot be decompressed, a DataError naming it."""
    try:
        yield
    except DataError:
        raise
    except (CHECKSUM_ERROR, DECOMPRESSION_ERROR) as error:
        checksum = isinstance(error, CHECKSUM_ERROR)
        raise DataError(
            f"{path}: array '{array.path}' chunk {array.metadata.encode_chunk_key(chunk)} "
            f"{'fails its crc32c checksum' if checksum else 'cannot be decompressed'}: "
            f"{REBUILD.format(path=path)}"
        ) from None


def _group(path) -> zarr.Group:
    """The zarr group at `path`, or a DataError if there is none."""
    try:
        return zarr.open_group(path, mode="r")
    except (zarr.errors.NodeNotFoundError, zarr.errors.ContainsArrayError):
        raise DataError(f"{path}: not a zarr store (no zarr v3 group metadata)") from None
    except FileNotFoundError:  # after zarr's errors: its NodeNotFoundError is one too
        raise DataError(f"{path}: no such store") from None


def _check_complete(path, array: zarr.Array) -> None:
    """A DataError naming the first chunk of `array` that has no file in the store at `path`."""
    keys = (array.metadata.encode_chunk_key(chunk) for chunk in np.ndindex(*array.cdata_shape))
    missing = [key for key in keys if not Path(path, array.path, key).is_file()]
    if missing:
        raise DataError(
            f"{path}: array '{array.path}' has no chunk {missing[0]} ({len(missing)} of "
            f"{array.nchunks} chunks missing): {REBUILD.format(path=path)}"
        )


def describe(path) -> str:
    """What a store holds: arrays, chunks, codecs, bytes, attributes, windows per class."""
    group = zarr.open_group(path, mode="r")
    lines = [f"{path} (zarr v{group.metadata.zarr_format} group)", "arrays:"]
    stored = raw = 0
    for name, array in sorted(group.arrays()):
        dims = ", ".join(array.metadata.dimension_names or ())
        codecs = ", ".join(type(c).__name__ for c in array.compressors) or "none"
        lines.append(
            f"  {name} ({dims}) shape={array.shape} dtype={array.dtype} chunks={array.chunks} "
            f"codecs={codecs} stored={_size(array.nbytes_stored())} raw={_size(array.nbytes)}"
        )
        stored += array.nbytes_stored()
        raw += array.nbytes
    lines.append(f"total: stored {_size(stored)}, raw {_size(raw)} ({raw / max(stored, 1):.2f}x)")
    lines.append("attributes:")
    lines += [f"  {key}: {json.dumps(value)}" for key, value in group.attrs.items()]
    for name in ("label", "annotation"):
        if name in group:
            counts = pd.Series(group[name][...]).value_counts()
            lines.append(f"windows per {name}:")
            lines += [f"  {count:>8}  {value}" for value, count in counts.items()]
            break
    return "\n".join(lines)


def describe_folder(folder) -> str:
    """What a folder of spectrogram stores holds, opened as one: the Dataset, bytes, windows per
    participant and per annotation."""
    paths = store_paths(folder)
    ds = open_spectrograms(paths)
    arrays = [array for path in paths for _, array in zarr.open_group(path, mode="r").arrays()]
    stored, raw = sum(a.nbytes_stored() for a in arrays), sum(a.nbytes for a in arrays)
    lines = [
        f"{folder}: {len(paths)} stores, {ds.sizes['window']} windows, stored {_size(stored)}, "
        f"raw {_size(raw)}",
        str(ds),
    ]
    for name in ("participant", "annotation"):
        lines.append(f"windows per {name}:")
        counts = pd.Series(ds[name].values.astype(object)).value_counts(sort=name != "participant")
        lines += [f"  {count:>8}  {value}" for value, count in counts.items()]
    return "\n".join(lines)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
