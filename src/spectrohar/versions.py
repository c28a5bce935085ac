"""The versions of the packages that make the pipeline's stores and checkpoints, which record them:
a result can be traced to the software that made it, and a run compared with a later one."""

from importlib import metadata

# The packages whose behaviour shapes the numbers; requirements.lock pins the rest of the tree.
PACKAGES = (
    "numpy",
    "scipy",
    "zarr",
    "dask",
    "torch",
    "scikit-learn",
    "skops",
    "snakemake",
    "spectrohar",
)


def versions() -> dict[str, str | None]:
    """Each of PACKAGES' installed version, None where it is not installed. Read from the installed
    packages' metadata, so that no package (torch least of all) is imported for it."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found
