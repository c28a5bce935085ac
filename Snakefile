"""spectrohar: Capture-24 recordings -> windows -> spectrogram cache -> CNN -> report."""

from pathlib import Path

from spectrohar import settings
from spectrohar.errors import DataError
from spectrohar.windows import PROCESSED


configfile: "config.yaml"


try:
    PARTICIPANTS = settings.check(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
except DataError as error:
    raise WorkflowError(str(error)) from None

SOURCE = config["source"]["path"]
DICTIONARY = config["labels"]["dictionary"] or f"{SOURCE}/annotation-label-dictionary.csv"


wildcard_constraints:
    participant="[^/]+",


if config["source"]["kind"] == "synthetic":

    include: "workflow/rules/synthesize.smk"


include: "workflow/rules/windows.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/spectrogram.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/report/report.html",
