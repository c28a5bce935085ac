# One job per participant: raw recording (or processed_data rows) -> zarr store of windows.


rule windows:
    input:
        **(
            {name: f"{SOURCE}/{name}" for name in PROCESSED}
            if config["source"]["kind"] == "npy"
            else {"recording": f"{SOURCE}/{{participant}}.csv.gz"}
        ),
    output:
        directory("results/windows/{participant}.zarr"),
    params:
        # processed_data is one folder for all participants; a recording is one file each.
        source=lambda wildcards, input: input.get("recording", SOURCE),
        settings={
            "kind": config["source"]["kind"],
            "on_error": config["source"]["on_error"],
            "sample_rate": config["windows"]["sample_rate"],
            "window_length_s": config["windows"]["length_s"],
            "resample": config["windows"]["resample"],
            "unit": config["windows"]["unit"],
        },
    log:
        "logs/windows/{participant}.log",
    benchmark:
        "benchmarks/rules/windows/{participant}.tsv"
    threads: 1
    resources:
        mem_mb=2000,  # a 26 h recording peaks near 1.1 GB
    script:
        "../scripts/windows.py"
