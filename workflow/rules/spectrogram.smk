# One job per participant: its window store -> its zarr store of log-magnitude STFT spectrograms.
# No labels: the scheme is applied where the cache is read, so a relabel rebuilds nothing here.


rule spectrogram:
    input:
        "results/windows/{participant}.zarr",
    output:
        directory("results/spectrograms/{participant}.zarr"),
    log:
        "logs/spectrogram/{participant}.log",
    benchmark:
        "logs/benchmarks/spectrogram/{participant}.tsv"
    threads: PARTICIPANT_THREADS
    resources:
        mem_mb=2000,
    params:
        spectrogram=config["spectrogram"],
    script:
        "../scripts/spectrogram.py"
