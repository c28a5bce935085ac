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
SPECTROGRAMS = expand("results/spectrograms/{participant}.zarr", participant=PARTICIPANTS)
# The source as one participant's jobs see it: which others are chosen is no parameter of them,
# so that adding a participant to source.participants reruns no other participant's jobs.
PARTICIPANT_SOURCE = {**config["source"], "participants": []}

# Threads of the jobs that use several (training, prediction), and of each participant's
# spectrogram job (a few each, so that participants' jobs run side by side); Snakemake caps
# both at --cores and sets OMP_NUM_THREADS to them.
THREADS = 8
PARTICIPANT_THREADS = 2


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
        SPECTROGRAMS,
        rules.split.output,
        rules.train.output,
        rules.predict.output,
        rules.score.output,
        rules.report.output,
