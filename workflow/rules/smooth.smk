# A model's predictions smoothed by a hidden Markov model over each participant's consecutive
# windows: transitions from the training participants' labels, emissions from the validation
# participants' predictions; the test participants are only decoded.


rule smooth:
    input:
        predictions="results/{model}/none/predictions.parquet",
        windows=WINDOWS,
        split="results/split.csv",
        dictionary=DICTIONARY,
    output:
        predictions="results/{model}/hmm/predictions.parquet",
        hmm="results/{model}/hmm/hmm.json",
    log:
        "logs/smooth/{model}.log",
    benchmark:
        "logs/benchmarks/smooth/{model}.tsv"
    resources:
        mem_mb=2000,
    params:
        labels=config["labels"],
        split=config["split"],  # to check the split table against
    script:
        "../scripts/smooth.py"
