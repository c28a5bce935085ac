# Train on the training participants from the cache; select the model on the validation ones.


rule train:
    input:
        spectrograms="results/spectrograms.zarr",
        split="results/split.csv",
    output:
        checkpoint="results/model.pt",
        history="results/history.csv",
    params:
        model=config["model"],
        train=config["train"],
    log:
        "logs/train.log",
    benchmark:
        "logs/benchmarks/train.tsv"
    threads: 8
    resources:
        mem_mb=8000,
    script:
        "../scripts/train.py"
