"""Writing and describing the pipeline's zarr v3 stores."""

import json
import warnings

import numpy as np
import pandas as pd
import xarray as xr
import zarr

STRING = np.dtypes.StringDType()


# Accelerations and log spectra barely compress (1.1-1.3x); LZ4 after a byte shuffle gets most of
# that at memory speed, where zarr's default Zstd costs more time than the stage's STFT.
CODEC = zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


def write_dataset(ds: xr.Dataset, path, chunks=None) -> None:
    """Write `ds` as a zarr v3 group with consolidated metadata, replacing what was there;
    `chunks` gives the chunk shape of large variables, which get the fast codec."""
    # No _FillValue: every element is written, and without one xarray reads the array as it is
    # rather than through a masked copy (2.5x slower).
    encoding = {
        name: {"chunks": shape, "compressors": CODEC, "_FillValue": None}
        for name, shape in (chunks or {}).items()
    }
    with warnings.catch_warnings():
        # zarr warns that consolidated metadata is not yet in the v3 spec; xarray reads it fine.
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(path, mode="w", zarr_format=3, consolidated=True, encoding=encoding)


def open_store(path) -> xr.Dataset:
    """A store as a lazy xarray Dataset, its arrays read as written (nothing is masked)."""
    return xr.open_zarr(path, use_zarr_fill_value_as_mask=False)


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


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
