# A self-contained HTML page and its figures, also registered for `snakemake --report`.


rule report:
    input:
        spectrograms="results/spectrograms.zarr",
        history="results/history.csv",
        metrics="results/metrics.json",
        classification_report="results/classification_report.txt",
        qc="results/qc.csv",
    output:
        html=report("results/report/report.html", category="Report"),
        spectrogram_examples=report(
            "results/report/spectrogram_examples.png",
            caption="../report/spectrogram_examples.rst",
            category="Spectrograms",
        ),
        training_curves=report(
            "results/report/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
        ),
        confusion_matrix=report(
            "results/report/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="Test participants",
        ),
        participant_kappa=report(
            "results/report/participant_kappa.png",
            caption="../report/participant_kappa.rst",
            category="Test participants",
        ),
    params:
        settings={
            "params": config,
            "n_examples": config["report"]["examples_per_class"],
            "seed": config["report"]["seed"],
        },
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/rules/report.tsv"
    resources:
        mem_mb=2000,
    script:
        "../scripts/report.py"
