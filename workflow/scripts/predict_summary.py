from spectrohar import recordings
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    recordings.summarise,
    tables=dict(zip(snakemake.params.names, snakemake.input.tables, strict=True)),
    summary=snakemake.output.summary,
    metrics=snakemake.output.metrics,
    page=snakemake.output.page,
)
