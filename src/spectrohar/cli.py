"""The `spectrohar` command: look inside the pipeline's stores."""

import argparse
from pathlib import Path

from spectrohar.stores import describe


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="spectrohar", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="print what a window or spectrogram store holds")
    inspect.add_argument("path", help="a zarr store, e.g. results/spectrograms.zarr")
    args = parser.parse_args(argv)
    if not Path(args.path).is_dir():
        parser.error(f"{args.path}: no such store")
    print(describe(args.path))


if __name__ == "__main__":
    main()
