from spectrohar.log import run_logged
from spectrohar.report import pages

run_logged(
    snakemake.log[0],
    pages.predictions_page,
    tables=dict(zip(snakemake.params.names, snakemake.input.tables, strict=True)),
    summary=snakemake.input.summary,
    metrics=snakemake.input.metrics,
    not_read=snakemake.input.not_read,
    cohort=snakemake.input.cohort,
    failures=snakemake.input.failures,
    page=snakemake.output.page,
    pages=snakemake.output.pages,
    valid_day_hours=snakemake.params.valid_day_hours,
    workers=snakemake.threads,
)
