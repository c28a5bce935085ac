# The selected model's predictions for every validation and test window, in one table.


rule predict:
    input:
        spectrograms=SPECTROGRAMS,
        split="results/split.csv",
        dictionary=DICTIONARY,
        checkpoint="results/model.pt",
    output:
        predictions="results/predictions.parquet",
    params:
        model=config["model"],
        train=config["train"],
        labels=config["labels"],
    log:
        "logs/predict.log",
    benchmark:
        "logs/benchmarks/predict.tsv"
    threads: THREADS
    resources:
        mem_mb=4000,  # models.CACHE_FRACTION of it for the sets held in memory
    script:
        "../scripts/predict.py"
