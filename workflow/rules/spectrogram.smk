# All window stores -> one chunked zarr store of log-magnitude STFT spectrograms.


rule spectrogram:
    input:
        windows=expand("results/windows/{participant}.zarr", participant=PARTICIPANTS),
        dictionary=DICTIONARY,
    output:
        directory("results/spectrograms.zarr"),
    params:
        spectrogram=config["spectrogram"],
        labels=config["labels"],
    log:
        "logs/spectrogram.log",
    benchmark:
        "logs/benchmarks/spectrogram.tsv"
    threads: 8
    resources:
        mem_mb=4000,
    script:
        "../scripts/spectrogram.py"
