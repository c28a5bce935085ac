from spectrohar.evaluation import compare
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    compare.build,
    metrics=list(snakemake.input.metrics),
    runs=snakemake.params.runs,
    table=snakemake.output[0],
)
