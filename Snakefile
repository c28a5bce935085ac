"""spectrohar: recordings -> windows -> spectrogram cache -> model -> predictions -> report."""

from pathlib import Path

from spectrohar import settings
from spectrohar.errors import DataError
from spectrohar.sources import PARTICIPANT_ID, source


configfile: "config.yaml"


try:
    SETTINGS, PARTICIPANTS = settings.check(
        config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
except DataError as error:
    raise WorkflowError(str(error)) from None

SOURCE = source(SETTINGS.source.kind)
DICTIONARY = settings.dictionary(SETTINGS)


wildcard_constraints:
    participant=PARTICIPANT_ID.pattern,


if hasattr(SOURCE, "RULES"):  # a source whose files the workflow makes

    include: f"workflow/rules/{SOURCE.RULES}"


include: "workflow/rules/windows.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/spectrogram.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/score.smk"
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
        rules.predict.output,
        rules.score.output,
        rules.report.output,
