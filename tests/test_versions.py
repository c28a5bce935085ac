import json
import subprocess
import sys
import tomllib

import numpy as np
import torch
from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_cache import spectrogram_store
from test_train import banded_noise, train_here, write_inputs

from spectrohar import versions as versions_module
from spectrohar.cache.stores import open_store
from spectrohar.cli import main
from spectrohar.versions import PACKAGES, versions

# Whether asking for the versions imports torch, in a process that has not imported it yet.
IMPORTS_TORCH = "import sys, spectrohar.versions as v; v.versions(); print('torch' in sys.modules)"


def test_versions_come_from_the_installed_packages_without_importing_torch(monkeypatch):
    assert versions().keys() == set(PACKAGES) and versions()["torch"] == torch.__version__
    imports = subprocess.run(
        [sys.executable, "-c", IMPORTS_TORCH], capture_output=True, text=True, check=True
    )
    assert imports.stdout.strip() == "False"
    monkeypatch.setattr(versions_module, "PACKAGES", ("numpy", "not-installed"))
    assert versions() == {"numpy": np.__version__, "not-installed": None}


def test_a_store_records_the_versions_that_wrote_it_and_inspect_shows_them(tmp_path, capsys):
    x = np.zeros((4, 3, 5, 4), np.float32)
    store = spectrogram_store(tmp_path / "s.zarr", ["P001"] * 4, ["sleep"] * 4, x)
    assert open_store(store).attrs["versions"] == versions()
    main(["inspect", str(store)])
    assert f"versions: {json.dumps(versions())}" in capsys.readouterr().out


def test_a_checkpoint_records_the_versions_that_trained_it(tmp_path, rng):
    train_here(write_inputs(tmp_path, *banded_noise(rng)), tmp_path, max_epochs=1)
    assert torch.load(tmp_path / "model.pt", weights_only=True)["versions"] == versions()


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
