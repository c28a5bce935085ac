# A self-contained HTML page and its figures, also registered for `snakemake --report`. A
# figure's caption, on the page and there, is ../report/<figure>.rst; its category groups it there.
FIGURES = {
    "spectrogram_examples": "Spectrograms",
    "training_curves": "Training",
    "confusion_matrix": "Test participants",
    "participant_kappa": "Test participants",
}


rule report:
    input:
        spectrograms=SPECTROGRAMS,
        dictionary=DICTIONARY,
        history="results/history.csv",
        metrics="results/metrics.json",
        classification_report="results/classification_report.txt",
        qc="results/qc.csv",
        # In the order of the figures below, which the script pairs them with.
        captions=[workflow.source_path(f"../report/{figure}.rst") for figure in FIGURES],
    output:
        page=report("results/report/report.html", category="Report"),
        **{
            figure: report(
                f"results/report/{figure}.png",
                caption=f"../report/{figure}.rst",
                category=category,
            )
            for figure, category in FIGURES.items()
        },
    params:
        report=config["report"],
        labels=config["labels"],
        config=config,
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    resources:
        mem_mb=2000,
    script:
        "../scripts/report.py"
