"""The run's settings: checked against the schema and against each other before anything runs,
then read section by section into typed, frozen objects that the stages take whole."""

import dataclasses
from pathlib import Path

import jsonschema
import scipy.signal
import yaml

from spectrohar.errors import DataError
from spectrohar.labels import DICTIONARY, read_dictionary
from spectrohar.sources import source
from spectrohar.split import make_split, select_participants


@dataclasses.dataclass(frozen=True)
class Source:
    kind: str
    path: str
    participants: list[str]
    on_error: str


@dataclasses.dataclass(frozen=True)
class Synthetic:
    participants: int
    hours: float
    seed: int


@dataclasses.dataclass(frozen=True)
class Windows:
    length_s: float
    sample_rate: float
    resample: bool
    unit: str

    @property
    def samples(self) -> int:
        """Samples in one window."""
        return round(self.length_s * self.sample_rate)


@dataclasses.dataclass(frozen=True)
class Labels:
    scheme: str
    dictionary: str | None
    unknown: str


@dataclasses.dataclass(frozen=True)
class Spectrogram:
    n_fft: int
    hop_length: int
    window: str
    channels: list[str]
    chunk_windows: int
    dtype: str


@dataclasses.dataclass(frozen=True)
class Split:
    test: list[str]
    validation_fraction: float
    seed: int


@dataclasses.dataclass(frozen=True)
class Model:
    """A model family's `name` and its own settings (`options`, e.g. the CNN's width)."""

    name: str
    options: dict

    @classmethod
    def from_section(cls, section) -> "Model":
        return cls(section["name"], {k: v for k, v in section.items() if k != "name"})


@dataclasses.dataclass(frozen=True)
class Train:
    device: str
    max_epochs: int
    patience: int
    monitor: str
    batch_size: int
    learning_rate: float
    class_weight: str
    mixed_precision: bool
    channels_last: bool
    deterministic: bool
    seed: int


@dataclasses.dataclass(frozen=True)
class Report:
    examples_per_class: int
    seed: int


SECTIONS = {
    "source": Source,
    "synthetic": Synthetic,
    "windows": Windows,
    "labels": Labels,
    "spectrogram": Spectrogram,
    "split": Split,
    "model": Model,
    "train": Train,
    "report": Report,
}


def section(name, values):
    """The typed object of config section `name`."""
    kind = SECTIONS[name]
    return kind.from_section(values) if hasattr(kind, "from_section") else kind(**values)


def sections(values) -> dict:
    """Typed objects of the config sections in `values` (a config, or a rule's params named
    after sections); other entries are left out."""
    return {name: section(name, value) for name, value in values.items() if name in SECTIONS}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The whole config, typed."""

    source: Source
    synthetic: Synthetic
    windows: Windows
    labels: Labels
    spectrogram: Spectrogram
    split: Split
    model: Model
    train: Train
    report: Report


def participants(settings: Settings) -> list[str]:
    """The source's participants, narrowed to `source.participants`."""
    found = source(settings.source.kind).participants(settings)
    if not found:
        raise DataError(f"source.path {settings.source.path!r} holds no participants")
    return select_participants(settings.source.participants, found, "source.participants") or found


def dictionary(settings: Settings) -> str:
    """The annotation-label dictionary in use: `labels.dictionary`, else the source folder's."""
    return settings.labels.dictionary or f"{settings.source.path}/{DICTIONARY}"


def _check_dictionary(settings: Settings) -> None:
    """The dictionary must be there, with the scheme's column."""
    path = dictionary(settings)
    column = f"label:{settings.labels.scheme}"
    if not Path(path).is_file():
        raise DataError(f"labels.dictionary: {path!r} does not exist")
    if column not in read_dictionary(path).columns:
        raise DataError(f"labels.dictionary: {path!r} has no column {column!r}")


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


def check(config, schema_path) -> tuple[Settings, list[str]]:
    """Type `config` in place by the schema; raise DataError with one sentence on the first bad
    setting; return the typed settings and the participants."""
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    config.update(_typed(config, schema))
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(config)
    )
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "the top level"
        raise DataError(f"config {where}: {error.message}")
    settings = Settings(**sections(config))
    stft, windows = settings.spectrogram, settings.windows
    if stft.n_fft > windows.samples:
        raise DataError(
            f"config spectrogram.n_fft: {stft.n_fft} samples is longer than a "
            f"{windows.length_s} s window at {windows.sample_rate} Hz ({windows.samples} samples)"
        )
    if stft.hop_length > stft.n_fft:
        raise DataError(
            f"config spectrogram.hop_length: {stft.hop_length} is longer than n_fft "
            f"{stft.n_fft}, so samples between frames would be skipped"
        )
    try:
        scipy.signal.get_window(stft.window, stft.n_fft)
    except ValueError as error:
        raise DataError(f"config spectrogram.window: {stft.window!r}: {error}") from None
    found = participants(settings)
    if not hasattr(source(settings.source.kind), "RULES"):  # else the workflow makes it
        _check_dictionary(settings)
    make_split(found, settings.split)
    return settings, found
