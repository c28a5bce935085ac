# Every model x smoothing side by side: one row each, metrics with their confidence intervals.


rule compare:
    input:
        metrics=expand("results/{run[0]}/{run[1]}/metrics.json", run=RUNS),
    output:
        report("results/comparison.csv", category="Report"),
    log:
        "logs/compare.log",
    benchmark:
        "logs/benchmarks/compare.tsv"
    resources:
        mem_mb=500,
    params:
        runs=RUNS,
    script:
        "../scripts/compare.py"
