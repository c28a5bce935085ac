"""Writing and describing the pipeline's zarr v3 stores."""

import json
import warnings

import numpy as np
import pandas as pd
import xarray as xr
import zarr

STRING = np.dtypes.StringDType()


def write_dataset(ds: xr.Dataset, path, encoding=None) -> None:
    """Write `ds` as a zarr v3 group with consolidated metadata, replacing what was there."""
    with warnings.catch_warnings():
        # zarr warns that consolidated metadata is not yet in the v3 spec; xarray reads it fine.
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(path, mode="w", zarr_format=3, consolidated=True, encoding=encoding)


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
