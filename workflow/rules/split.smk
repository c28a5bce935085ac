# Participant-level train / validation / test table, with the source's metadata.csv columns.


rule split:
    input:
        **METADATA,
        windows=expand("results/windows/{participant}.zarr", participant=PARTICIPANTS),
    output:
        "results/split.csv",
    log:
        "logs/split.log",
    benchmark:
        "logs/benchmarks/split.tsv"
    resources:
        mem_mb=200,
    params:
        split=config["split"],
    script:
        "../scripts/split.py"
