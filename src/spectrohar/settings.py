"""The run's settings: checked against the schema and against each other before anything runs,
then read section by section into typed, frozen objects that the stages take whole. The schema
is where the settings' names and types are written: each section's type is made from it."""

import dataclasses
import functools
import operator
import typing
import zoneinfo
from pathlib import Path

import jsonschema
import scipy.signal
import yaml

from spectrohar.errors import DataError
from spectrohar.evaluation.split import select_participants
from spectrohar.sources import source
from spectrohar.sources.labels import (
    PACKAGED_DICTIONARY,
    SCHEME,
    choose_dictionary,
    read_dictionary,
)
from spectrohar.sources.metadata import METADATA

REPO = Path(__file__).resolve().parents[2]  # the checkout the package is installed from
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPO / "config.yaml"
DEFAULTS = yaml.safe_load(DEFAULT_CONFIG.read_text())  # the pipeline's default settings
_PROPERTIES = yaml.safe_load(SCHEMA.read_text())["properties"]
_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


@dataclasses.dataclass(frozen=True)
class Model:
    """A model family's `name` (its config section's) and its settings (`options`, e.g. the
    CNN's width)."""

    name: str
    options: dict


# The type of each config section by name: a model family's section (one of compare.models) is
# a Model; every other section's type is made from its schema below.
SECTIONS = dict.fromkeys(_PROPERTIES["compare"]["properties"]["models"]["items"]["enum"], Model)


def _annotation(schema):
    """The Python type of a setting of `schema`: its JSON types', or its enum values'."""
    kinds = schema.get("type", [])
    types = [_JSON_TYPES[kind] for kind in ([kinds] if isinstance(kinds, str) else kinds)]
    types = types or [type(value) for value in schema.get("enum", [])]
    return functools.reduce(operator.or_, dict.fromkeys(types)) if types else typing.Any


def _section_type(name, class_name, doc=None, defaults=None, **namespace) -> type:
    """The type of config section `name`, a frozen dataclass named `class_name`: a field per
    property of its schema, in the schema's order, each defaulting to `defaults`' value where
    given."""
    fields = [
        (key, _annotation(schema))
        + ((dataclasses.field(default=defaults[key]),) if defaults else ())
        for key, schema in _PROPERTIES[name]["properties"].items()
    ]
    SECTIONS[name] = dataclasses.make_dataclass(
        class_name,
        fields,
        frozen=True,
        namespace={"__module__": __name__, "__doc__": doc, **namespace},
    )
    return SECTIONS[name]


def _samples(windows) -> int:
    """Samples in one window."""
    return round(windows.length_s * windows.sample_rate)


def _step(windows) -> float:
    """Seconds from one window's start to the next: step_s, or the window length when unset."""
    return windows.length_s if windows.step_s is None else windows.step_s


Source = _section_type("source", "Source")
Synthetic = _section_type("synthetic", "Synthetic")
Windows = _section_type("windows", "Windows", samples=property(_samples), step=property(_step))
Labels = _section_type("labels", "Labels")
Spectrogram = _section_type("spectrogram", "Spectrogram")
Split = _section_type("split", "Split")
Compare = _section_type("compare", "Compare")
Train = _section_type("train", "Train")
Report = _section_type("report", "Report")
Predict = _section_type("predict", "Predict")
# Non-wear is judged outside the workflow too (`spectrohar predict`): its rule defaults to the
# pipeline's default config.
NonWearRule = _section_type(
    "nonwear",
    "NonWearRule",
    "Thresholds of the rule: an axis is still over `window_minutes` when its standard deviation "
    "is below `std_mg` and its range below `range_mg`; windows start every `step_minutes`; a "
    "block is non-wear when `axes_still` axes are still.",
    defaults=DEFAULTS["nonwear"],
)


def check_time_zone(name, setting) -> None:
    """An IANA time zone `name` (None: none) or a DataError naming `setting`."""
    if name is None:
        return
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"{setting}: {name!r} is no IANA time zone (such as Europe/London or UTC)"
        ) from None


def choices(name, key) -> list:
    """The values setting `key` of config section `name` may take: its schema's enum."""
    return _PROPERTIES[name]["properties"][key]["enum"]


def section(name, values):
    """The typed object of config section `name`."""
    kind = SECTIONS[name]
    return Model(name, dict(values)) if kind is Model else kind(**values)


def sections(values) -> dict:
    """Typed objects of the config sections in `values` (a config, or a rule's params named
    after sections); other entries are left out."""
    return {name: section(name, value) for name, value in values.items() if name in SECTIONS}


Settings = dataclasses.make_dataclass(
    "Settings",
    [(name, SECTIONS[name]) for name in _PROPERTIES],
    frozen=True,
    namespace={"__module__": __name__, "__doc__": "The whole config, typed."},
)


def participants(settings: Settings) -> list[str]:
    """The source's participants, narrowed to `source.participants`."""
    found = source(settings.source.kind).participants(settings)
    if not found:
        raise DataError(f"source.path {settings.source.path!r} holds no participants")
    return select_participants(settings.source.participants, found, "source.participants") or found


def _made(settings: Settings) -> bool:
    """Whether the workflow makes the source's files (a source with RULES)."""
    return hasattr(source(settings.source.kind), "RULES")


def dictionary(settings: Settings) -> str:
    """The annotation-label dictionary in use (labels.choose_dictionary, for the source
    folder)."""
    return choose_dictionary(settings.labels.dictionary, settings.source.path, _made(settings))


def metadata(settings: Settings) -> str | None:
    """The source folder's metadata.csv, if it has one (or the workflow makes one)."""
    path = Path(settings.source.path) / METADATA
    return str(path) if path.is_file() or _made(settings) else None


def _check_dictionary(settings: Settings) -> None:
    """The dictionary must be there, with the scheme's column."""
    path = dictionary(settings)
    if not Path(path).is_file():
        if not _made(settings):
            raise DataError(f"labels.dictionary: {path!r} does not exist")
        path = PACKAGED_DICTIONARY  # the workflow writes a copy of it
    schemes = [c.removeprefix(SCHEME) for c in read_dictionary(path).columns if c != "annotation"]
    if settings.labels.scheme not in schemes:
        raise DataError(
            f"labels.scheme: {settings.labels.scheme!r} is not a scheme of {path} (its "
            f"label:<scheme> columns: {', '.join(schemes) or 'none'})"
        )


def _typed(value, schema):
    """Snakemake reads nested `--config` values as strings: read back those the schema types."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {key: _typed(item, properties.get(key, {})) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item, schema.get("items", {})) for item in value]
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds  # [number, "null"]: a number or null
    parse = next((p for k, p in (("integer", int), ("number", float)) if k in kinds), None)
    if isinstance(value, str) and parse:
        try:
            return parse(value)
        except ValueError:
            pass  # left as it is for the schema to reject
    return value


def check(config, schema_path=SCHEMA) -> tuple[Settings, list[str]]:
    """Type `config` in place by the schema; raise DataError with one sentence on the first bad
    setting; return the typed settings and the participants. Of the split, only the test ids
    named are checked here (each must be a participant): that it makes three sets with
    annotated windows is the split rule's to check, so that windows and spectrograms need none."""
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
    if windows.step > windows.length_s:
        raise DataError(
            f"config windows.step_s: {windows.step_s} s is longer than windows.length_s "
            f"{windows.length_s} s, which would skip the samples between windows (windows "
            "further apart in the data are gaps, taken as they are)"
        )
    rule = settings.nonwear
    if rule.window_minutes % rule.step_minutes or (rule.step_minutes * 60) % windows.step:
        raise DataError(
            f"config nonwear: window_minutes {rule.window_minutes} must be a multiple of "
            f"step_minutes {rule.step_minutes}, and that of the windows' step {windows.step:g} s "
            "(windows.step_s, or windows.length_s when it is unset)"
        )
    check_time_zone(settings.predict.timezone, "config predict.timezone")
    if bool(settings.split.test) == (settings.split.test_fraction is not None):
        raise DataError(
            "config split: give either test (ids and ranges) or test_fraction, not both and not "
            f"neither (test: {settings.split.test}, test_fraction: {settings.split.test_fraction})"
        )
    found = participants(settings)
    # Here, not in the split rule, which would first delete the last run's split table.
    select_participants(settings.split.test, found)
    _check_dictionary(settings)
    return settings, found
