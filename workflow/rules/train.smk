# Train each model family on the training participants from its stores; select the model on the
# validation ones. The test participants are never read here.


rule train_cnn:
    input:
        spectrograms=SPECTROGRAMS,
        split="results/split.csv",
        dictionary=DICTIONARY,
    output:
        checkpoint=MODEL_FILES["cnn"],
        history="results/cnn/history.csv",
    params:
        model=config["cnn"],
        train=config["train"],
        labels=config["labels"],
    log:
        "logs/train/cnn.log",
    benchmark:
        "logs/benchmarks/train/cnn.tsv"
    threads: THREADS
    resources:
        # models.CACHE_FRACTION of it holds the training and validation splits in memory while
        # they fit; larger ones are streamed from the cache by chunks.
        mem_mb=8000,
    script:
        "../scripts/train_cnn.py"


rule train_forest:
    input:
        features=FEATURES,
        split="results/split.csv",
        dictionary=DICTIONARY,
    output:
        model=MODEL_FILES["forest"],
        history="results/forest/history.csv",
    params:
        model=config["forest"],
        train=config["train"],
        labels=config["labels"],
    log:
        "logs/train/forest.log",
    benchmark:
        "logs/benchmarks/train/forest.tsv"
    threads: THREADS
    resources:
        mem_mb=8000,
    script:
        "../scripts/train_forest.py"
