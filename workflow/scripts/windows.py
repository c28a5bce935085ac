from spectrohar import settings, windows
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    windows.build,
    inputs=dict(snakemake.input),
    store=snakemake.output[0],
    participant=snakemake.wildcards.participant,
    **settings.sections(snakemake.params),
)
