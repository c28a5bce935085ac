# One job per participant: its window store -> its zarr store of hand-crafted features per window
# (spectrohar.cache.features), which the forest reads. No labels, as in the spectrogram stores.


rule features:
    input:
        "results/windows/{participant}.zarr",
    output:
        directory("results/features/{participant}.zarr"),
    log:
        "logs/features/{participant}.log",
    benchmark:
        "logs/benchmarks/features/{participant}.tsv"
    threads: PARTICIPANT_THREADS
    resources:
        mem_mb=2000,
    script:
        "../scripts/features.py"
