"""The `spectrohar` command: look inside the pipeline's stores; predict recordings with a
trained model."""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from spectrohar import settings
from spectrohar.cache.layout import window_length
from spectrohar.cache.stores import (
    describe,
    describe_folder,
    open_spectrograms,
    reading,
    store_paths,
)
from spectrohar.cache.windows import UNITS
from spectrohar.errors import DataError
from spectrohar.prediction.cohort import VALID_DAY_HOURS, failures_sentence
from spectrohar.prediction.nonwear import DEFAULT_RULE
from spectrohar.prediction.predict import OUTPUTS, predict_files
from spectrohar.report.figures import DPI, plot_window
from spectrohar.report.pages import predictions_page


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="spectrohar", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect", help="print what a store, or a folder of spectrogram stores, holds"
    )
    inspect.add_argument(
        "path", help="a zarr store (results/windows/P001.zarr) or a folder (results/spectrograms)"
    )
    show = commands.add_parser("show", help="draw one window of the spectrograms as a PNG")
    show.add_argument(
        "path", help="a spectrogram store or a folder of them, e.g. results/spectrograms"
    )
    show.add_argument("--window", type=int, help="the window's position in the store or folder")
    show.add_argument("--participant", help="with --time: the participant, e.g. P101")
    show.add_argument("--time", help="with --participant: a time in the window, 2016-11-13 10:30")
    show.add_argument("--output", default="window.png", help="the PNG to write (window.png)")
    predict = commands.add_parser(
        "predict",
        help="a trained model on recordings: a table per recording, a summary per day, a page",
    )
    predict.add_argument(
        "recordings",
        nargs="+",
        metavar="RECORDING",
        help="a recording: *.csv.gz or *.csv, or a device file (.cwa, .gt3x, .bin, each also .gz)",
    )
    predict.add_argument(
        "--model", required=True, help="a model file the pipeline saved: model.pt, model.skops"
    )
    predict.add_argument("--hmm", help="an hmm.json the pipeline saved for the model: smooth by it")
    predict.add_argument("--output", required=True, help="the folder to write the results to")
    predict.add_argument(
        "--unit",
        choices=list(UNITS),
        default="g",
        help="the CSV recordings' unit (g; device files are read in g)",
    )
    predict.add_argument(
        "--calibrate",
        choices=["auto", "on", "off"],
        default="auto",
        help="autocalibrate the recordings (van Hees et al. 2014), as predict.calibrate: auto "
        "calibrates device files only",
    )
    predict.add_argument(
        "--max-gap",
        type=float,
        default=settings.DEFAULTS["windows"]["max_gap_s"],
        metavar="SECONDS",
        help="a longer step between a resampled recording's timestamps (every device file is "
        "resampled) is missing data, as windows.max_gap_s (%(default)s)",
    )
    predict.add_argument(
        "--on-error",
        choices=settings.choices("predict", "on_error"),
        default=settings.DEFAULTS["predict"]["on_error"],
        help="a recording that cannot be predicted: skip it (listed in failures.csv, the command "
        "then exiting with status 1) or stop at it, as predict.on_error (%(default)s)",
    )
    predict.add_argument(
        "--timezone",
        help="an IANA time zone, e.g. Europe/London: naive times are read on its clock, and days "
        "are its days (as predict.timezone; without it, times are read as written)",
    )
    predict.add_argument(
        "--device",
        choices=settings.choices("train", "device"),
        default="auto",
        help="as train.device (auto)",
    )
    args = parser.parse_args(argv)
    if args.command != "predict" and not Path(args.path).is_dir():
        parser.error(f"{args.path}: no such store")
    try:
        if args.command == "predict":
            output = Path(args.output)
            settings.check_time_zone(args.timezone, "--timezone")
            tables, failed = predict_files(
                args.recordings,
                output,
                model_file=args.model,
                hmm_file=args.hmm,
                unit=args.unit,
                calibrate=args.calibrate,
                max_gap_s=args.max_gap,
                nonwear=DEFAULT_RULE,
                timezone=args.timezone,
                device=args.device,
                on_error=args.on_error,
            )
            # As the workflow's predict_page rule does after predict_summary.
            predictions_page(
                tables,
                *(output / name for name in OUTPUTS),
                output / "report.html",
                output / "pages",
                valid_day_hours=VALID_DAY_HOURS,
            )
            print(f"{len(args.recordings)} recordings -> {args.output}")
            if failed:
                sentence = failures_sentence(failed, len(tables), output / "failures.csv")
                parser.exit(1, f"spectrohar: {sentence}\n")
            return
        if args.command == "inspect":
            folder = Path(args.path).suffix != ".zarr"
            print(describe_folder(args.path) if folder else describe(args.path))
            return
        show_window(parser, args)
    except DataError as error:  # one sentence, as the workflow prints it
        parser.exit(1, f"spectrohar: {error}\n")


def show_window(parser, args) -> None:
    """The show command: draw the window that `args` name."""
    paths = store_paths(args.path)  # a window's position is the same whichever way it is named
    ds = open_spectrograms(paths)
    index = (
        args.window if args.window is not None else _find(parser, ds, args.participant, args.time)
    )
    if not 0 <= index < ds.sizes["window"]:
        parser.error(f"--window {index}: {args.path} has windows 0 to {ds.sizes['window'] - 1}")
    with reading(*paths):
        figure = plot_window(ds, index)
    figure.savefig(args.output, dpi=DPI)
    print(f"window {index} -> {args.output}")


def _find(parser, ds, participant, time) -> int:
    """The window of `participant` that holds `time`."""
    if participant is None or time is None:
        parser.error("show needs --window, or --participant and --time")
    start = ds.window_start.values
    length = window_length(ds.attrs["window_length_s"])
    try:
        at = np.datetime64(pd.Timestamp(time), "ns")
    except (ValueError, TypeError):  # unparseable, or empty (NaT)
        parser.error(f"--time {time!r}: not a time like 2016-11-13 10:30")
    hits = np.flatnonzero(
        (ds.participant.values == participant) & (start <= at) & (at < start + length)
    )
    if not hits.size:
        parser.error(f"no window of {participant} holds {time}")
    return int(hits[0])


if __name__ == "__main__":
    main()
