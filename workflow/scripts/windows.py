from spectrohar import windows
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    windows.build,
    source=snakemake.params.source,
    store=snakemake.output[0],
    participant=snakemake.wildcards.participant,
    **snakemake.params.settings,
)
