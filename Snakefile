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
    participant=settings.PARTICIPANT_ID.pattern,


if config["source"]["kind"] == "synthetic":

    include: "workflow/rules/synthesize.smk"


include: "workflow/rules/windows.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/spectrogram.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Every stage's output, not only the report: an output lost to a killed `--forcerun` (Snakemake
# deletes a forced job's outputs first) is then rebuilt by a plain rerun, with what follows it.
rule all:
    input:
        expand("results/windows/{participant}.zarr", participant=PARTICIPANTS),
        rules.qc.output,
        rules.spectrogram.output,
        rules.split.output,
        rules.train.output,
        rules.evaluate.output,
        rules.report.output,
