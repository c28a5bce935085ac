"""What each entry point imports: torch only where a network is trained or run."""

import subprocess
import sys

import pytest
from conftest import REPO


def run(*args):
    """`python *args` in a fresh interpreter, which must succeed."""
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, [line for line in result.stderr.splitlines() if "|" not in line]
    return result


@pytest.mark.slow
def test_parsing_the_snakefile_imports_no_torch(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    result = run("-X", "importtime", "-m", "snakemake", "-n", "-d", str(tmp_path))
    modules = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "spectrohar.models" in modules  # the registry was read
    assert "torch" not in modules


def test_the_cli_and_the_registry_import_torch_only_to_predict_with_a_network():
    run(
        "-c",
        """
import contextlib, sys
from spectrohar import cli
from spectrohar.models import FAMILIES
for command in ("inspect", "show", "predict"):
    with contextlib.suppress(SystemExit):
        cli.main([command, "-h"])
assert FAMILIES["cnn"].stores and "torch" not in sys.modules, "torch imported before it is used"
FAMILIES["cnn"].module
assert "torch" in sys.modules, "the CNN's module imports torch"
""",
    )
