# One job per participant: raw recording -> zarr store of fixed-length windows.


rule windows:
    input:
        recording=f"{SOURCE}/{{participant}}.csv.gz",
    output:
        directory("results/windows/{participant}.zarr"),
    params:
        settings={
            "sample_rate": config["windows"]["sample_rate"],
            "window_length_s": config["windows"]["length_s"],
        },
    log:
        "logs/windows/{participant}.log",
    benchmark:
        "benchmarks/windows/{participant}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
    script:
        "../scripts/windows.py"
