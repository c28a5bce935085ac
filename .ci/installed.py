"""Every package of requirements.lock is installed at its locked version: run by .ci/run with the
environment's Python before the tests, so that they test the locked versions."""

import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"


def pins(lines) -> dict[str, str]:
    """name -> version of `name==version` lines, comments left out."""
    pairs = (line.split("#")[0].strip().split("==") for line in lines)
    return {canonicalize_name(pair[0]): pair[1] for pair in pairs if len(pair) == 2}


def main() -> int:
    locked = pins(LOCK.read_text().splitlines())
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    )
    installed = pins(freeze.stdout.splitlines())
    wrong = {
        name: f"{installed.get(name, 'not installed')}, locked {version}"
        for name, version in locked.items()
        if installed.get(name) != version
    }
    if wrong:
        print(f"reinstall from requirements.lock (README, Quick start): {wrong}", file=sys.stderr)
        return 1
    print(f"{len(locked)} locked packages installed at their versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
