"""The model families, each named once here: its config section (its name), the cache stores it
reads, its model file, and its module, imported only when one of its functions is first called,
so that reading this registry (the Snakefile, the schema test, `spectrohar inspect`) imports no
torch.

Adding a family is adding its module, with these two functions, and a line to FAMILIES:

- `fit(stores, split_table, dictionary, model_file, history_table, *, labels, memory_mb,
  threads, **sections)`: its train_<name> rule; `sections` are the family's own config
  section and the others it names in `sections`, typed, by name.
- `load(model_file, device, threads) -> Loaded`: a saved model, ready to predict on `device`
  (train.device's choices) with `threads` threads.

The schema's `compare.models` enum and the family's closed config section follow this registry
(a test holds them to it); the rules take everything else from here.
"""

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
    """A saved model: its `classes`, the windows it takes (`window_length_s` long, sampled at
    `sample_rate` Hz), the `labels` settings it was trained under, the device it runs on, and
    two ways to predict. `predict_set(stores, split_table, name, labelling, memory_mb)` reads set
    `name` of the split table from the family's stores and gives the windows' coordinates and
    class probabilities; `predict_windows(acceleration)` gives the class probabilities of
    (window, sample, axis) acceleration in g, axes in layout.AXES order, computing the model's
    inputs the way its stores were made. Its windows start `window_step_s` apart, as in training."""

    classes: list
    window_length_s: float
    window_step_s: float
    sample_rate: float
    labels: Labels
    device: str
    predict_set: Callable
    predict_windows: Callable


def model_file(name) -> str:
    """Where family `name`'s train rule saves its model."""
    return f"results/{name}/{FAMILIES[name].model_file}"


def load_model(path, device, threads) -> Loaded:
    """The model saved at `path`, of the family whose model file has its suffix."""
    for family in FAMILIES.values():
        if Path(path).suffix == Path(family.model_file).suffix:
            return family.load(path, device, threads)
    raise DataError(
        f"{path}: is no model file of this pipeline (one of "
        f"{', '.join(family.model_file for family in FAMILIES.values())} that its train rules "
        "save)"
    )
