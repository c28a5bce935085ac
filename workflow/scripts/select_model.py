from spectrohar import recordings
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    recordings.select_run,
    runs=dict(zip(snakemake.params.runs, snakemake.input.predictions, strict=True)),
    selected=snakemake.output[0],
)
