"""The model registry, spectrohar.models.FAMILIES: the schema, the config and the train rules
follow it, and reading it imports no torch."""

import inspect
import subprocess
import sys

import numpy as np
import yaml
from conftest import REPO

from spectrohar import settings
from spectrohar.models import FAMILIES, model_file

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
DEFAULTS = yaml.safe_load((REPO / "config.yaml").read_text())

# Whether reading the registry or asking for the versions imports torch, in a process that has
# not imported it yet.
IMPORTS_TORCH = (
    "import sys, spectrohar.models as m, spectrohar.versions as v; "
    "[m.model_file(n) for n in m.FAMILIES]; v.versions(); print('torch' in sys.modules)"
)


def test_the_schema_names_every_model_family_and_no_other():
    properties = SCHEMA["properties"]
    families = properties["compare"]["properties"]["models"]["items"]["enum"]
    assert sorted(families) == sorted(FAMILIES)
    assert set(DEFAULTS["compare"]["models"]) <= set(FAMILIES)
    assert set(SCHEMA["required"]) == set(settings.SECTIONS) == set(DEFAULTS)
    for name, family in FAMILIES.items():
        # A closed config section of its own, read as its Model, and the sections it names.
        assert name in SCHEMA["required"] and settings.SECTIONS[name] is settings.Model
        assert properties[name]["additionalProperties"] is False
        assert set(family.sections) <= set(SCHEMA["required"])
        # Its train rule passes the family's own section, those it names and the labels by name.
        fit = inspect.signature(family.module.fit).parameters
        assert {name, *family.sections, "labels", "memory_mb", "threads"} <= set(fit)
        assert callable(family.module.load)
        assert model_file(name) == f"results/{name}/{family.model_file}"


def test_each_family_takes_its_sections_options_as_the_config_gives_them():
    from spectrohar.models.forest import fit_forest
    from spectrohar.models.network import CNN

    x, y = np.eye(4), ["a", "b", "a", "b"]
    fit_forest(x, y, x, y, options=DEFAULTS["forest"], threads=1)  # no KeyError
    cnn = SCHEMA["properties"]["cnn"]["properties"]
    CNN(n_classes=2, in_channels=3, **{name: 2 for name in cnn})  # no TypeError


def test_reading_the_registry_and_the_versions_imports_no_torch():
    imports = subprocess.run(
        [sys.executable, "-c", IMPORTS_TORCH], capture_output=True, text=True, check=True
    )
    assert imports.stdout.strip() == "False"
