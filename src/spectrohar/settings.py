"""The run's settings: checked against the schema and against each other before anything runs."""

import hashlib
import re
from collections import defaultdict
from pathlib import Path

import jsonschema
import numpy as np
import scipy.signal
import yaml

from spectrohar.errors import DataError
from spectrohar.labels import DICTIONARY, read_dictionary
from spectrohar.models import MODELS
from spectrohar.split import make_split, select_participants
from spectrohar.synthetic import participant_ids
from spectrohar.windows import read_processed

# Letters, digits, '_', '-' and '.' (ASCII only: 'P00١' is not 'P001'); ids name files and
# Snakemake wildcards, so nothing else may reach a path.
PARTICIPANT_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}", flags=re.ASCII)


def participants(config) -> list[str]:
    """The participants to process: the synthetic ids, the stems of a Capture-24 folder's
    P*.csv.gz or the ids in processed_data's pid.npy, narrowed to `source.participants`."""
    source = config["source"]
    if source["kind"] == "synthetic":
        return participant_ids(config["synthetic"]["participants"])
    folder = Path(source["path"])
    if not folder.is_dir():
        raise DataError(f"source.path {str(folder)!r} is not a folder")
    if source["kind"] == "npy":
        # Checked whole here, once, rather than by every participant's job.
        windows = config["windows"]
        pid = read_processed(folder, round(windows["length_s"] * windows["sample_rate"]))[3]
        found = _checked_ids(np.unique(pid).tolist(), folder / "pid.npy")
    else:
        recordings = sorted(folder.glob("P*.csv.gz"))
        for path in recordings:
            _checked_ids([path.name.removesuffix(".csv.gz")], path)
            if not path.exists():
                raise DataError(f"{path}: is a broken symbolic link to {path.readlink()}")
        _refuse_copies(recordings)
        found = [path.name.removesuffix(".csv.gz") for path in recordings]
    if not found:
        raise DataError(f"source.path {str(folder)!r} holds no participants")
    return select_participants(source["participants"], found, "source.participants") or found


def _checked_ids(ids, where) -> list[str]:
    """`ids`, each refused with `where` named unless it is a usable participant id."""
    for participant in ids:
        if not PARTICIPANT_ID.fullmatch(participant):
            raise DataError(
                f"{where}: {participant!r} is not a usable participant id (ASCII letters, "
                "digits, '_', '-' and '.', not starting with '.', up to 64 characters)"
            )
    return ids


def _refuse_copies(paths) -> None:
    """Two files with the same bytes are one recording under two names: stop, naming both.
    Only files of equal size are read."""
    by_size = defaultdict(list)
    for path in paths:
        by_size[path.stat().st_size].append(path)
    for same_size in by_size.values():
        seen = {}
        for path in same_size if len(same_size) > 1 else ():
            with open(path, "rb") as f:
                key = hashlib.file_digest(f, "sha256").hexdigest()
            if key in seen:
                raise DataError(
                    f"{seen[key]} and {path} are the same file (identical content): one "
                    "recording under two participant ids would leak between the split's sets; "
                    "remove one"
                )
            seen[key] = path


def _check_dictionary(config) -> None:
    """A real source's dictionary must be there, with the scheme's column."""
    path = Path(config["labels"]["dictionary"] or Path(config["source"]["path"], DICTIONARY))
    column = f"label:{config['labels']['scheme']}"
    if not path.is_file():
        raise DataError(f"labels.dictionary: {str(path)!r} does not exist")
    if column not in read_dictionary(path).columns:
        raise DataError(f"labels.dictionary: {str(path)!r} has no column {column!r}")


def _typed(value, schema):
    """Snakemake reads nested `--config` values as strings: read back those the schema types."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {key: _typed(item, properties.get(key, {})) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item, schema.get("items", {})) for item in value]
    parse = {"integer": int, "number": float}.get(str(schema.get("type")))
    if isinstance(value, str) and parse:
        try:
            return parse(value)
        except ValueError:
            pass  # left as it is for the schema to reject
    return value


def check(config, schema_path) -> list[str]:
    """Type `config` in place by the schema; raise DataError with one sentence on the first bad
    setting; return the participants."""
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    config.update(_typed(config, schema))
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(config)
    )
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "the top level"
        raise DataError(f"config {where}: {error.message}")
    if config["model"]["name"] not in MODELS:
        raise DataError(
            f"config model.name: {config['model']['name']!r} is not one of {sorted(MODELS)}"
        )
    stft, windows = config["spectrogram"], config["windows"]
    window_samples = round(windows["length_s"] * windows["sample_rate"])
    if stft["n_fft"] > window_samples:
        raise DataError(
            f"config spectrogram.n_fft: {stft['n_fft']} samples is longer than a "
            f"{windows['length_s']} s window at {windows['sample_rate']} Hz "
            f"({window_samples} samples)"
        )
    if stft["hop_length"] > stft["n_fft"]:
        raise DataError(
            f"config spectrogram.hop_length: {stft['hop_length']} is longer than n_fft "
            f"{stft['n_fft']}, so samples between frames would be skipped"
        )
    try:
        scipy.signal.get_window(stft["window"], stft["n_fft"])
    except ValueError as error:
        raise DataError(f"config spectrogram.window: {stft['window']!r}: {error}") from None
    found = participants(config)
    if config["source"]["kind"] != "synthetic":
        _check_dictionary(config)
    make_split(found, **config["split"])
    return found
