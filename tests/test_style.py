"""The code's style: ruff on the Python, snakefmt and Snakemake's linter on the workflow."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

# The one lint we do not follow: the workflow runs in the environment of requirements.lock
# (README, Quick start), not a conda environment or container per rule.
CONDA = "Specify a conda environment or container for each rule."


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_is_snakefmt_clean():
    # The line length of the project's Python (pyproject's tool.ruff).
    snakefmt = Path(sys.executable).with_name("snakefmt")
    result = subprocess.run(
        [snakefmt, "--check", "--line-length", "100", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr + diff(snakefmt)


def diff(snakefmt) -> str:
    """What snakefmt would change."""
    return subprocess.run(
        [snakefmt, "--diff", "--line-length", "100", "."], cwd=REPO, capture_output=True, text=True
    ).stdout


def lints(text) -> list[tuple[str, str]]:
    """(where, title) of each lint in `snakemake --lint`'s text output."""
    found, where = [], None
    for line in text.splitlines():
        if header := re.fullmatch(r"Lints for (.+):", line):
            where = header[1]
        elif (item := re.fullmatch(r"    \* (.+?):", line)) and where is not None:
            found.append((where, item[1]))
    return found


def test_lints_parses_snakemakes_text():
    text = (
        "Lints for rule qc (line 4, workflow/rules/qc.smk):\n"
        f"    * {CONDA}:\n"
        "      This way, the used software ...\n\n"
        "Lints for snakefile workflow/rules/predict.smk:\n"
        "    * Mixed rules and functions in same snakefile.:\n"
        "      Small one-liner functions ...\n"
    )
    assert lints(text) == [
        ("rule qc (line 4, workflow/rules/qc.smk)", CONDA),
        ("snakefile workflow/rules/predict.smk", "Mixed rules and functions in same snakefile."),
    ]


def test_snakemake_lint_finds_nothing_but_the_conda_lint(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--lint"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    found = lints(output)
    others = [lint for lint in found if lint[1] != CONDA]
    assert not others, output
    # The linter exits 1 on any lint: here only on the conda ones it found, not on an error.
    assert result.returncode == (1 if found else 0), output
