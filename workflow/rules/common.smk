# The input functions of the predict rules (predict.smk): which recordings, which model.
import dataclasses
import functools
import json

from spectrohar.sources import capture24
from spectrohar.sources.recordings import SUFFIXES

PREDICTION_RUNS = [f"{model}/{smoothing}" for model in FAMILIES for smoothing in SMOOTHINGS]
MODEL_SUFFIXES = [Path(family.model_file).suffix for family in FAMILIES.values()]
if not (
    SETTINGS.predict.model in ("best", *PREDICTION_RUNS)
    or Path(SETTINGS.predict.model).suffix in MODEL_SUFFIXES
):
    raise WorkflowError(
        f"config predict.model: {SETTINGS.predict.model!r} is neither best, nor a run "
        f"({', '.join(PREDICTION_RUNS)}), nor a model file "
        f"({', '.join(family.model_file for family in FAMILIES.values())})"
    )


@functools.cache
def predict_recordings() -> dict[str, dict[str, str]]:
    """The files of each recording of predict.recordings by name (its recording and the
    folder's annotation table where there is one), listed as a capture24 source's
    participants."""
    folder = SETTINGS.predict.recordings
    if folder is None or not Path(folder).is_dir():
        raise WorkflowError(
            f"config predict.recordings: {folder!r} is not a folder (name the folder of "
            f"recordings to predict: {', '.join(SUFFIXES)})"
        )
    source = dataclasses.replace(SETTINGS.source, kind="capture24", path=folder, participants=[])
    recordings = dataclasses.replace(SETTINGS, source=source)
    try:
        names = capture24.participants(recordings)
    except DataError as error:
        raise WorkflowError(str(error)) from None
    for path, reason in not_read().items():
        logger.warning(f"predict.recordings: {path}: not read: {reason}")
    if not names:
        raise WorkflowError(
            f"config predict.recordings: {folder!r} holds no recording ({', '.join(SUFFIXES)})"
        )
    return {name: capture24.inputs(recordings, name) for name in names}


@functools.cache
def not_read() -> dict[str, str]:
    """The files of predict.recordings that are no recordings, with what each is."""
    return capture24.not_recordings(SETTINGS.predict.recordings)


def prediction_tables(wildcards) -> list[str]:
    """The table of each recording of predict.recordings."""
    return expand("results/predict/{recording}.parquet", recording=predict_recordings())


def predict_model(wildcards) -> dict[str, str]:
    """The files of predict.model: a model file and, for a run smoothed by an HMM, its HMM."""
    run = SETTINGS.predict.model
    if run == "best":
        run = json.loads(Path(checkpoints.select_model.get().output[0]).read_text())["run"]
    if run not in PREDICTION_RUNS:
        return {"model": run}
    model, smoothing = run.split("/")
    hmm = {"hmm": f"results/{model}/hmm/hmm.json"} if smoothing == "hmm" else {}
    return {"model": MODEL_FILES[model], **hmm}
