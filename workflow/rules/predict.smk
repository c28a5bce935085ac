# The selected model's predictions for every validation and test window, in one table.


rule predict:
    input:
        spectrograms="results/spectrograms.zarr",
        split="results/split.csv",
        checkpoint="results/model.pt",
    output:
        predictions="results/predictions.parquet",
    params:
        model=config["model"],
        train=config["train"],
    log:
        "logs/predict.log",
    benchmark:
        "logs/benchmarks/predict.tsv"
    threads: 8
    resources:
        mem_mb=4000,
    script:
        "../scripts/predict.py"
