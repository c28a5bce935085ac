from spectrohar import settings
from spectrohar.log import run_logged
from spectrohar.sources import synthetic

run_logged(
    snakemake.log[0],
    synthetic.write_recording,
    path=snakemake.output.recording,
    participant=snakemake.wildcards.participant,
    intervals=snakemake.output.get("intervals"),
    **settings.sections(snakemake.params),
)
