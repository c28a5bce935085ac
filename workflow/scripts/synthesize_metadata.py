from pathlib import Path

from spectrohar import settings
from spectrohar.log import run_logged
from spectrohar.sources import synthetic

run_logged(
    snakemake.log[0],
    synthetic.write_metadata,
    folder=Path(snakemake.output.metadata).parent,
    participants=snakemake.params.participants,
    **settings.sections(snakemake.params),
)
