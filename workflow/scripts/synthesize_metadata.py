from pathlib import Path

from spectrohar import synthetic
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    synthetic.write_metadata,
    folder=Path(snakemake.output.metadata).parent,
    pids=snakemake.params.participants,
    seed=snakemake.params.seed,
)
