# The one look at the test participants.


rule evaluate:
    input:
        spectrograms="results/spectrograms.zarr",
        split="results/split.csv",
        checkpoint="results/model.pt",
    output:
        predictions="results/predictions.parquet",
        metrics="results/metrics.json",
        report="results/classification_report.txt",
    params:
        settings={
            "device": config["train"]["device"],
            "memory_budget_mb": config["train"]["memory_budget_mb"],
        },
    log:
        "logs/evaluate.log",
    benchmark:
        "benchmarks/rules/evaluate.tsv"
    threads: 8
    resources:
        mem_mb=4000,
    script:
        "../scripts/evaluate.py"
