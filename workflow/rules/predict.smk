# `snakemake --cores 8 predict`: a trained model on the recordings of predict.recordings, each
# cut and predicted as the model's windows were (spectrohar.prediction.predict), then a summary
# per recording and day, a cohort table, and an index page linking a page per recording under
# results/predict/. predict.model: best
# (the run with the best validation kappa, chosen by the select_model checkpoint), a run
# (cnn/hmm), or a model file used unsmoothed, for which nothing is trained. Input functions in
# common.smk.


checkpoint select_model:
    input:
        predictions=expand("results/{run[0]}/{run[1]}/predictions.parquet", run=RUNS),
    output:
        "results/selected.json",
    log:
        "logs/select_model.log",
    benchmark:
        "logs/benchmarks/select_model.tsv"
    resources:
        mem_mb=1000,
    params:
        runs=[f"{model}/{smoothing}" for model, smoothing in RUNS],
    script:
        "../scripts/select_model.py"


rule predict_recording:
    input:
        unpack(predict_model),
        unpack(lambda wildcards: predict_recordings()[wildcards.recording]),
    output:
        "results/predict/{recording}.parquet",
    log:
        "logs/predict/{recording}.log",
    benchmark:
        "logs/benchmarks/predict/{recording}.tsv"
    wildcard_constraints:
        recording=PARTICIPANT_ID.pattern,
    threads: PARTICIPANT_THREADS
    resources:
        mem_mb=2000,  # a week at 100 Hz, read and cut in pieces, peaks at 1.3 GB (README)
    params:
        unit=config["predict"]["unit"],
        calibrate=config["predict"]["calibrate"],
        max_gap_s=config["windows"]["max_gap_s"],
        timezone=config["predict"]["timezone"],
        on_error=config["predict"]["on_error"],
        nonwear=config["nonwear"],
        device=config["train"]["device"],
    script:
        "../scripts/predict_recording.py"


rule predict_summary:
    input:
        tables=prediction_tables,
    output:
        summary="results/predict/summary.csv",
        metrics="results/predict/metrics.json",
        not_read="results/predict/not_read.csv",
        cohort="results/predict/cohort.csv",
        failures="results/predict/failures.csv",
    log:
        "logs/predict/summary.log",
    benchmark:
        "logs/benchmarks/predict/summary.tsv"
    resources:
        mem_mb=2000,
    params:
        names=lambda wildcards: list(predict_recordings()),
        not_read=lambda wildcards: not_read(),
        valid_day_hours=config["predict"]["valid_day_hours"],
    script:
        "../scripts/predict_summary.py"


rule predict_page:
    input:
        tables=prediction_tables,
        summary=rules.predict_summary.output.summary,
        metrics=rules.predict_summary.output.metrics,
        not_read=rules.predict_summary.output.not_read,
        cohort=rules.predict_summary.output.cohort,
        failures=rules.predict_summary.output.failures,
    output:
        page=report("results/predict/report.html", category="Predictions"),
        # A page per recording in one folder that one job writes: a rule per page would add a
        # job, and a process to start, per recording.
        pages=directory("results/predict/pages"),
    log:
        "logs/predict/page.log",
    benchmark:
        "logs/benchmarks/predict/page.tsv"
    threads: THREADS  # a page per recording, drawn side by side
    resources:
        mem_mb=4000,  # 300 MB a process drawing pages
    params:
        names=lambda wildcards: list(predict_recordings()),
        valid_day_hours=config["predict"]["valid_day_hours"],
    script:
        "../scripts/predict_page.py"


rule predict:
    input:
        rules.predict_summary.output,
        rules.predict_page.output,
