# The one look at the test participants: metrics of their rows of a run's predictions, with
# bootstrap confidence intervals by participant, overall and per group of their metadata.


rule score:
    input:
        predictions="results/{model}/{smoothing}/predictions.parquet",
        split="results/split.csv",
    output:
        metrics="results/{model}/{smoothing}/metrics.json",
        classification_report="results/{model}/{smoothing}/classification_report.txt",
    log:
        "logs/score/{model}-{smoothing}.log",
    benchmark:
        "logs/benchmarks/score/{model}-{smoothing}.tsv"
    resources:
        mem_mb=1000,
    params:
        # Of the compare section, only what the intervals depend on.
        bootstrap={key: config["compare"][key] for key in ("resamples", "confidence", "seed")},
        split=config["split"],  # to check the split table against
    script:
        "../scripts/score.py"
