from spectrohar.log import run_logged
from spectrohar.prediction import predict

run_logged(
    snakemake.log[0],
    predict.select_run,
    runs=dict(zip(snakemake.params.runs, snakemake.input.predictions, strict=True)),
    selected=snakemake.output[0],
)
