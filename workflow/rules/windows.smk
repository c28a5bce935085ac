# One job per participant: its files of the source -> zarr store of windows.


rule windows:
    input:
        unpack(lambda wildcards: SOURCE.inputs(SETTINGS, wildcards.participant)),
    output:
        directory("results/windows/{participant}.zarr"),
    log:
        "logs/windows/{participant}.log",
    benchmark:
        "logs/benchmarks/windows/{participant}.tsv"
    resources:
        mem_mb=2000,  # a 26 h recording peaks near 1.1 GB
    params:
        source=PARTICIPANT_SOURCE,
        windows=config["windows"],
    script:
        "../scripts/windows.py"
