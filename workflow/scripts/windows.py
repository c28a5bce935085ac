from spectrohar import windows
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    windows.build,
    recording=snakemake.input.recording,
    store=snakemake.output[0],
    participant=snakemake.wildcards.participant,
    **snakemake.params.settings,
)
