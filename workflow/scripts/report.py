from spectrohar import settings
from spectrohar.log import run_logged
from spectrohar.report import pages

figures = dict(snakemake.output.items())
page = figures.pop("page")
run_logged(
    snakemake.log[0],
    pages.build,
    spectrograms=list(snakemake.input.spectrograms),
    dictionary=snakemake.input.dictionary,
    comparison=snakemake.input.comparison,
    selected=snakemake.input.selected,
    runs=dict(zip(map(tuple, snakemake.params.runs), snakemake.input.metrics, strict=True)),
    classification_reports=list(snakemake.input.classification_reports),
    histories=dict(zip(snakemake.params.models, snakemake.input.histories, strict=True)),
    qc=snakemake.input.qc,
    captions=dict(zip(figures, snakemake.input.captions, strict=True)),
    page=page,
    figures=figures,
    config=snakemake.params.config,
    **settings.sections(snakemake.params),
)
