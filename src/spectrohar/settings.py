"""The run's settings: checked against the schema and against each other before anything runs."""

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
        if not (folder / "pid.npy").is_file():
            raise DataError(f"source.path {str(folder)!r} has no pid.npy (processed_data)")
        found = np.unique(np.load(folder / "pid.npy", allow_pickle=True).astype(str)).tolist()
    else:
        found = sorted(path.name.removesuffix(".csv.gz") for path in folder.glob("P*.csv.gz"))
    if not found:
        raise DataError(f"source.path {str(folder)!r} holds no participants")
    return select_participants(source["participants"], found, "source.participants") or found


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
