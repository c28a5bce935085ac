# A model's predictions for every validation and test window, in one table.


rule evaluate:
    input:
        stores=lambda wildcards: STORES[wildcards.model],
        split="results/split.csv",
        dictionary=DICTIONARY,
        model=lambda wildcards: MODEL_FILES[wildcards.model],
    output:
        predictions="results/{model}/none/predictions.parquet",
    log:
        "logs/evaluate/{model}.log",
    benchmark:
        "logs/benchmarks/evaluate/{model}.tsv"
    threads: THREADS
    resources:
        mem_mb=4000,  # training.CACHE_FRACTION of it for the sets held in memory
    params:
        # The device matters only to a family that runs on one.
        device=lambda wildcards: (
            config["train"]["device"] if FAMILIES[wildcards.model].device else "cpu"
        ),
        labels=config["labels"],
        split=config["split"],  # to check the split table against
    script:
        "../scripts/evaluate.py"
