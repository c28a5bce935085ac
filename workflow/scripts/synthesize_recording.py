from spectrohar import synthetic
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    synthetic.write_recording,
    path=snakemake.output[0],
    pid=snakemake.wildcards.participant,
    hours=snakemake.params.hours,
    seed=snakemake.params.seed,
)
