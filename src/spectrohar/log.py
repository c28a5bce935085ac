"""Run a stage with all it says (log lines, warnings, progress bars) going to its log file."""

import logging
import sys

from spectrohar.errors import DataError


def run_logged(log_path, stage, /, **kwargs):
    """Call `stage(**kwargs)` with stderr and logging sent to `log_path`.

    A DataError ends the process with its one-sentence message, in the log and on the console,
    rather than a traceback; any other error prints its type and message on the console too, its
    traceback in the log.
    """
    stream = open(log_path, "w", buffering=1)  # stays open for the whole process
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    try:
        return stage(**kwargs)
    except DataError as error:
        logging.getLogger(stage.__module__).error("%s", error)
        print(f"spectrohar: {error}", file=sys.__stderr__)
        sys.exit(1)
    except Exception as error:
        # A fault of ours, not of the data: the traceback goes to the log, its gist to the console.
        logging.getLogger(stage.__module__).exception("unexpected error")
        print(
            f"spectrohar: unexpected {type(error).__name__} in {stage.__module__}.{stage.__name__}"
            f": {error} (traceback in {log_path})",
            file=sys.__stderr__,
        )
        sys.exit(1)
