from spectrohar import report
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    report.build,
    spectrograms=snakemake.input.spectrograms,
    history=snakemake.input.history,
    metrics=snakemake.input.metrics,
    classification_report=snakemake.input.classification_report,
    qc=snakemake.input.qc,
    html=snakemake.output.html,
    **snakemake.params.settings,
)
