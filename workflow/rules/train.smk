# Train on the training participants from the cache; select the model on the validation ones.


rule train:
    input:
        spectrograms=SPECTROGRAMS,
        split="results/split.csv",
        dictionary=DICTIONARY,
    output:
        checkpoint="results/model.pt",
        history="results/history.csv",
    params:
        model=config["model"],
        train=config["train"],
        labels=config["labels"],
    log:
        "logs/train.log",
    benchmark:
        "logs/benchmarks/train.tsv"
    threads: THREADS
    resources:
        # models.CACHE_FRACTION of it holds the training and validation splits in memory while
        # they fit; larger ones are streamed from the cache by chunks.
        mem_mb=8000,
    script:
        "../scripts/train.py"
