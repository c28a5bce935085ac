"""The model families, each named once here: its config section (its name), the cache stores it
reads, its model file, and its module, imported only when one of its functions is first called,
so that reading this registry (the Snakefile, the schema test, `spectrohar inspect`) imports no
torch.

Adding a family is adding its module, with these two functions, and a line to FAMILIES:

- `fit(stores, split_table, dictionary, model_file, history_table, *, labels, memory_mb,
  threads, **sections)`: its train_<name> rule; `sections` are the family's own config
  section and the others it names in `sections`, typed, by name.
- `load(model_file, device, threads) -> Loaded`: a saved model, ready to predict on `device`
  (train.device's choices) with `threads` threads; a file it cannot read, or whose parts do not
  agree, is a DataError naming it (`saved_contents` turns what reading its parts raises into one).

The schema's `compare.models` enum and the family's closed config section follow this registry
(a test holds them to it); the rules take everything else from here.
"""

import contextlib
import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path

from spectrohar.errors import DataError
from spectrohar.settings import Labels


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family: `name` is its config section and its folder under results/; it reads the
    cache stores named `stores` (results/<stores>/<participant>.zarr) and is saved as
    `model_file`; its training depends on the config `sections` besides its own and the labels,
    and its predictions on train.device where it runs on one (`device`)."""

    name: str
    stores: str
    model_file: str
    sections: tuple[str, ...] = ()
    device: bool = False

    @property
    def module(self):
        """The family's module (with `fit` and `load`), imported when first asked for."""
        return importlib.import_module(f"spectrohar.models.{self.name}")

    def load(self, model_file, device, threads) -> "Loaded":
        return self.module.load(model_file, device, threads)


FAMILIES = {
    family.name: family
    for family in (
        Family("cnn", "spectrograms", "model.pt", sections=("train",), device=True),
        Family("forest", "features", "model.skops"),
    )
}


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A saved model: its `classes`, the `inputs` settings of the stores it was trained on (by
    the name of the store attribute, or else coordinate, that holds each: window_length_s,
    window_step_s and sample_rate among them), the `labels` settings it was trained under, the
    device it runs on, and two ways to predict. `predict_set(stores, split_table, name,
    labelling, memory_mb)` reads set `name` of the split table from the family's stores and
    gives the windows' coordinates and class probabilities; `predict_windows(acceleration)`
    gives the class probabilities of (window, sample, axis) acceleration in g, axes in
    layout.AXES order, computing the model's inputs the way its stores were made. Its windows
    start `window_step_s` apart, as in training."""

    classes: list
    inputs: dict
    labels: Labels
    device: str
    predict_set: Callable
    predict_windows: Callable

    @property
    def window_length_s(self) -> float:
        """The length of the windows it takes, in seconds."""
        return self.inputs["window_length_s"]

    @property
    def window_step_s(self) -> float:
        """The step between the starts of the windows it takes, in seconds."""
        return self.inputs["window_step_s"]

    @property
    def sample_rate(self) -> float:
        """The sample rate of the windows it takes, in Hz."""
        return self.inputs["sample_rate"]


# What reading a model file's parts raises where they are not what a train rule saved: a key it
# lacks, a value of another type or shape, weights of another network.
CONTENT_ERRORS = (KeyError, TypeError, ValueError, AttributeError, RuntimeError)


@contextlib.contextmanager
def saved_contents(path, family, saved):
    """Reading `saved`, what `family`'s model file at `path` holds: what CONTENT_ERRORS that
    raises, and a file that holds no dict of parts, is one sentence naming the file."""
    try:
        if not isinstance(saved, dict):
            raise TypeError(f"it holds an object of type {type(saved).__name__}, not a dict")
        yield saved
    except DataError:
        raise
    except CONTENT_ERRORS as error:
        reason = " ".join(f"{type(error).__name__}: {error}".split())  # on one line
        raise DataError(
            f"{path}: not read, as it is no model that the train_{family} rule saved ({reason})"
        ) from None


def model_file(name) -> str:
    """Where family `name`'s train rule saves its model."""
    return f"results/{name}/{FAMILIES[name].model_file}"


def load_model(path, device, threads) -> Loaded:
    """The model saved at `path`, of the family whose model file has its suffix."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no such model file")
    for family in FAMILIES.values():
        if Path(path).suffix == Path(family.model_file).suffix:
            return family.load(path, device, threads)
    raise DataError(
        f"{path}: is no model file of this pipeline (one of "
        f"{', '.join(family.model_file for family in FAMILIES.values())} that its train rules "
        "save)"
    )
