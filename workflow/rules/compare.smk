# Every model x smoothing side by side: one row each, metrics with their confidence intervals.


rule compare:
    input:
        metrics=expand("results/{run[0]}/{run[1]}/metrics.json", run=RUNS),
    output:
        report("results/comparison.csv", category="Report"),
    params:
        runs=RUNS,
    log:
        "logs/compare.log",
    benchmark:
        "logs/benchmarks/compare.tsv"
    resources:
        mem_mb=500,
    script:
        "../scripts/compare.py"
