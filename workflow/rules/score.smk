# The one look at the test participants: metrics of their rows of the predictions table.


rule score:
    input:
        predictions="results/predictions.parquet",
    output:
        metrics="results/metrics.json",
        classification_report="results/classification_report.txt",
    log:
        "logs/score.log",
    benchmark:
        "logs/benchmarks/score.tsv"
    resources:
        mem_mb=1000,
    script:
        "../scripts/score.py"
