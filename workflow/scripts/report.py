from spectrohar import report, settings
from spectrohar.log import run_logged

figures = dict(snakemake.output.items())
page = figures.pop("page")
run_logged(
    snakemake.log[0],
    report.build,
    spectrograms=list(snakemake.input.spectrograms),
    dictionary=snakemake.input.dictionary,
    history=snakemake.input.history,
    metrics=snakemake.input.metrics,
    classification_report=snakemake.input.classification_report,
    qc=snakemake.input.qc,
    captions=dict(zip(figures, snakemake.input.captions, strict=True)),
    page=page,
    figures=figures,
    config=snakemake.params.config,
    **settings.sections(snakemake.params),
)
