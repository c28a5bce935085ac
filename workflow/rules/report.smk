# A self-contained HTML page and its figures, also registered for `snakemake --report`: the
# comparison of every model x smoothing first, then each run's test scores. A figure's caption, on
# the page and there, is ../report/<kind>.rst; its category groups it there.
RUN_FIGURES = {"confusion_matrix": "Test participants", "participant_kappa": "Test participants"}
FIGURES = {
    "comparison": ("comparison", "Comparison"),
    "spectrogram_examples": ("spectrogram_examples", "Spectrograms"),
    **(
        {"training_curves": ("training_curves", "Training")}
        if "cnn" in SETTINGS.compare.models
        else {}
    ),
    **{
        f"{kind}_{model}_{smoothing}": (kind, category)
        for model, smoothing in RUNS
        for kind, category in RUN_FIGURES.items()
    },
}


rule report:
    input:
        spectrograms=SPECTROGRAMS,
        dictionary=DICTIONARY,
        comparison="results/comparison.csv",
        selected="results/selected.json",  # select_model's (predict.smk): the title's run
        metrics=expand("results/{run[0]}/{run[1]}/metrics.json", run=RUNS),
        classification_reports=expand(
            "results/{run[0]}/{run[1]}/classification_report.txt", run=RUNS
        ),
        histories=expand("results/{model}/history.csv", model=SETTINGS.compare.models),
        qc="results/qc.csv",
        # In the order of the figures below, which the script pairs them with.
        captions=[workflow.source_path(f"../report/{kind}.rst") for kind, _ in FIGURES.values()],
    output:
        **{
            figure: report(
                f"results/report/{figure}.png",
                caption=f"../report/{kind}.rst",
                category=category,
            )
            for figure, (kind, category) in FIGURES.items()
        },
        page=report("results/report/report.html", category="Report"),
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    resources:
        mem_mb=2000,
    params:
        runs=RUNS,
        models=SETTINGS.compare.models,
        report=config["report"],
        labels=config["labels"],
        config=config,
    script:
        "../scripts/report.py"
