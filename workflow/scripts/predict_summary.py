from spectrohar.log import run_logged
from spectrohar.prediction import predict

run_logged(
    snakemake.log[0],
    predict.summarise,
    tables=dict(zip(snakemake.params.names, snakemake.input.tables, strict=True)),
    summary=snakemake.output.summary,
    metrics=snakemake.output.metrics,
    not_read_table=snakemake.output.not_read,
    cohort=snakemake.output.cohort,
    failures=snakemake.output.failures,
    not_read=snakemake.params.not_read,
    valid_day_hours=snakemake.params.valid_day_hours,
)
