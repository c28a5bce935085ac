import json
import tomllib

import numpy as np
import torch
from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_cache import spectrogram_store

from spectrohar import versions as versions_module
from spectrohar.cache.stores import open_store
from spectrohar.cli import main
from spectrohar.versions import PACKAGES, versions


def test_versions_come_from_the_installed_packages(monkeypatch):
    # That asking for them imports no torch: test_models, in the same fresh process.
    assert versions().keys() == set(PACKAGES) and versions()["torch"] == torch.__version__
    monkeypatch.setattr(versions_module, "PACKAGES", ("numpy", "not-installed"))
    assert versions() == {"numpy": np.__version__, "not-installed": None}


def test_a_store_records_the_versions_that_wrote_it_and_inspect_shows_them(tmp_path, capsys):
    x = np.zeros((4, 3, 5, 4), np.float32)
    store = spectrogram_store(tmp_path / "s.zarr", ["P001"] * 4, ["sleep"] * 4, x)
    assert open_store(store).attrs["versions"] == versions()
    main(["inspect", str(store)])
    assert f"versions: {json.dumps(versions())}" in capsys.readouterr().out


def locked() -> dict[str, str]:
    """requirements.lock's packages and their versions (.ci/installed.py checks that they are
    the installed ones)."""
    lines = (REPO / "requirements.lock").read_text().splitlines()
    pins = (line.split("#")[0].strip().split("==") for line in lines if "==" in line)
    return {canonicalize_name(name): version for name, version in pins}


def test_the_lock_pins_every_dependency_but_torch():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    names = {canonicalize_name(Requirement(text).name) for text in requirements}
    assert names - {"torch"} <= locked().keys()
    assert "torch" not in locked()
