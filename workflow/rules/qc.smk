# Per participant: rows read, windows kept and dropped per reason, hours annotated, label counts.


rule qc:
    input:
        windows=expand("results/windows/{participant}.zarr", participant=PARTICIPANTS),
        dictionary=DICTIONARY,
    output:
        "results/qc.csv",
    log:
        "logs/qc.log",
    benchmark:
        "logs/benchmarks/qc.tsv"
    resources:
        mem_mb=1000,
    params:
        labels=config["labels"],
    script:
        "../scripts/qc.py"
