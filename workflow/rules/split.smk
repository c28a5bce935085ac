# Participant-level train / validation / test table, with the source's metadata.csv columns.


rule split:
    input:
        windows=expand("results/windows/{participant}.zarr", participant=PARTICIPANTS),
        **METADATA,
    output:
        "results/split.csv",
    params:
        split=config["split"],
    log:
        "logs/split.log",
    benchmark:
        "logs/benchmarks/split.tsv"
    resources:
        mem_mb=200,
    script:
        "../scripts/split.py"
