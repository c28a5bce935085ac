# `snakemake --cores 8 predict`: a trained model on the recordings of predict.recordings, each
# cut and predicted as the model's windows were (spectrohar.prediction.predict), then a summary
# per recording and day and a page of timelines under results/predict/. predict.model: best (the run
# with the best validation kappa, chosen by the select_model checkpoint), a run (cnn/hmm), or a
# model file used unsmoothed, for which nothing is trained.
import dataclasses
import functools
import json

from spectrohar.sources import capture24

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
def predict_recordings() -> dict[str, str]:
    """The files of predict.recordings by name, listed as a capture24 source's participants."""
    folder = SETTINGS.predict.recordings
    if folder is None or not Path(folder).is_dir():
        raise WorkflowError(
            f"config predict.recordings: {folder!r} is not a folder (name the folder of "
            "recordings to predict, *.csv.gz or *.csv)"
        )
    source = settings.Source(kind="capture24", path=folder, participants=[], on_error="stop")
    try:
        names = capture24.participants(dataclasses.replace(SETTINGS, source=source))
    except DataError as error:
        raise WorkflowError(str(error)) from None
    if not names:
        raise WorkflowError(f"config predict.recordings: {folder!r} holds no *.csv.gz or *.csv")
    return {name: capture24.inputs(source, name)["recording"] for name in names}


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


checkpoint select_model:
    input:
        predictions=expand("results/{run[0]}/{run[1]}/predictions.parquet", run=RUNS),
    output:
        "results/selected.json",
    params:
        runs=[f"{model}/{smoothing}" for model, smoothing in RUNS],
    log:
        "logs/select_model.log",
    benchmark:
        "logs/benchmarks/select_model.tsv"
    resources:
        mem_mb=1000,
    script:
        "../scripts/select_model.py"


rule predict_recording:
    input:
        unpack(predict_model),
        recording=lambda wildcards: predict_recordings()[wildcards.recording],
    output:
        "results/predict/{recording}.parquet",
    params:
        unit=config["predict"]["unit"],
        nonwear=config["nonwear"],
        device=config["train"]["device"],
    wildcard_constraints:
        recording=PARTICIPANT_ID.pattern,
    log:
        "logs/predict/{recording}.log",
    benchmark:
        "logs/benchmarks/predict/{recording}.tsv"
    threads: PARTICIPANT_THREADS
    resources:
        mem_mb=4000,  # a week at 100 Hz: 0.7 GB of windows, several times that while read
    script:
        "../scripts/predict_recording.py"


rule predict_summary:
    input:
        tables=prediction_tables,
    output:
        summary="results/predict/summary.csv",
        metrics="results/predict/metrics.json",
    params:
        names=lambda wildcards: list(predict_recordings()),
    log:
        "logs/predict/summary.log",
    benchmark:
        "logs/benchmarks/predict/summary.tsv"
    resources:
        mem_mb=2000,
    script:
        "../scripts/predict_summary.py"


rule predict_page:
    input:
        tables=prediction_tables,
        summary=rules.predict_summary.output.summary,
        metrics=rules.predict_summary.output.metrics,
    output:
        report("results/predict/report.html", category="Predictions"),
    params:
        names=lambda wildcards: list(predict_recordings()),
    log:
        "logs/predict/page.log",
    benchmark:
        "logs/benchmarks/predict/page.tsv"
    resources:
        mem_mb=2000,
    script:
        "../scripts/predict_page.py"


rule predict:
    input:
        rules.predict_summary.output,
        rules.predict_page.output,
