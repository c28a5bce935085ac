"""spectrohar: recordings -> windows -> spectrogram cache -> model -> predictions -> report."""

import time
from pathlib import Path

from snakemake.logging import logger

from spectrohar import settings
from spectrohar.sources import annotations, labels
from spectrohar.errors import DataError
from spectrohar.models import FAMILIES, model_file
from spectrohar.prediction.cohort import written_failures
from spectrohar.sources import PARTICIPANT_ID, source


configfile: "config.yaml"


STARTED = time.time()  # the run's start (the Snakefile is read first)


# Of the split, only the test ids named are checked here (by settings.check), the rest by the
# split rule: a recording's windows and spectrograms need none, so one recording on its own can
# be processed.
try:
    SETTINGS, PARTICIPANTS = settings.check(config)
except DataError as error:
    raise WorkflowError(str(error)) from None

SOURCE = source(SETTINGS.source.kind)
# A folder of recordings: what in it is read as no recording is said, never passed over silently.
if SETTINGS.source.kind == "capture24":
    for path, reason in SOURCE.not_recordings(SETTINGS.source.path).items():
        if Path(path).name not in SOURCE.NOT_RECORDINGS:
            logger.warning(f"source.path: {path}: not read: {reason}")
DICTIONARY = settings.dictionary(SETTINGS)
if DICTIONARY == str(labels.PACKAGED_DICTIONARY):
    logger.info(f"labels: no dictionary beside the data; using Capture-24's ({DICTIONARY})")
# The source's metadata.csv, as a rule's named input (none without one).
METADATA = {"metadata": path} if (path := settings.metadata(SETTINGS)) else {}
WINDOWS = expand("results/windows/{participant}.zarr", participant=PARTICIPANTS)
SPECTROGRAMS = expand("results/spectrograms/{participant}.zarr", participant=PARTICIPANTS)
# Per model family: the stores it reads and the file its train rule saves it in.
STORES = {
    name: expand(f"results/{family.stores}/{{participant}}.zarr", participant=PARTICIPANTS)
    for name, family in FAMILIES.items()
}
MODEL_FILES = {name: model_file(name) for name in FAMILIES}
SMOOTHINGS = ("none", "hmm")
# Every model x smoothing compared: results/{model}/{smoothing}/ holds its predictions and scores.
RUNS = [(m, s) for m in SETTINGS.compare.models for s in SETTINGS.compare.smoothing]
# The source as one participant's jobs see it: which others are chosen is no parameter of them,
# so that adding a participant to source.participants reruns no other participant's jobs.
PARTICIPANT_SOURCE = {**config["source"], "participants": []}

# Threads of the jobs that use several (training, evaluation), and of each participant's
# spectrogram and feature jobs: one each, so that participants' jobs run side by side and their
# start-up (about 1.5 s of imports, most of a 2,000-window job) overlaps; Snakemake caps both at
# --cores and sets OMP_NUM_THREADS to them.
THREADS = 8
PARTICIPANT_THREADS = 1


wildcard_constraints:
    participant=PARTICIPANT_ID.pattern,
    model="|".join(FAMILIES),
    smoothing="|".join(SMOOTHINGS),


if hasattr(SOURCE, "RULES"):  # a source whose files the workflow makes

    include: f"workflow/rules/{SOURCE.RULES}"


include: "workflow/rules/windows.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/spectrogram.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/smooth.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/predict.smk"


# Every stage's output, not only the report: an output lost to a killed `--forcerun` (Snakemake
# deletes a forced job's outputs first) is then rebuilt by a plain rerun, with what follows it.
rule all:
    input:
        WINDOWS,
        rules.qc.output,
        *(STORES[model] for model in SETTINGS.compare.models),
        rules.split.output,
        *(MODEL_FILES[model] for model in SETTINGS.compare.models),
        expand("results/{run[0]}/{run[1]}/metrics.json", run=RUNS),
        rules.compare.output,
        rules.report.output,


# A run that predicted recordings ends saying how many failed (predict.on_error: skip), where its
# last lines are read, not only in the middle of its log; a run that did not write the failures
# table says nothing of it.
onsuccess:
    written = rules.predict_summary.output
    if Path(written.failures).is_file() and Path(written.failures).stat().st_mtime >= STARTED:
        failed, sentence = written_failures(written.failures, written.cohort)
        if failed:
            logger.warning(sentence)
        else:
            logger.info(sentence)
