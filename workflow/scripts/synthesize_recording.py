from spectrohar import settings
from spectrohar.log import run_logged
from spectrohar.sources import synthetic

run_logged(
    snakemake.log[0],
    synthetic.write_recording,
    path=snakemake.output[0],
    participant=snakemake.wildcards.participant,
    **settings.sections(snakemake.params),
)
