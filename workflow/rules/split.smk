# Participant-level train / validation / test table.


rule split:
    output:
        "results/split.csv",
    params:
        participants=PARTICIPANTS,
        settings=config["split"],
    log:
        "logs/split.log",
    benchmark:
        "benchmarks/rules/split.tsv"
    resources:
        mem_mb=200,
    script:
        "../scripts/split.py"
