from spectrohar import settings
from spectrohar.cache import windows
from spectrohar.log import run_logged
from spectrohar.sources import source

run_logged(
    snakemake.log[0],
    windows.build,
    inputs=dict(snakemake.input),
    store=snakemake.output[0],
    participant=snakemake.wildcards.participant,
    read=source(snakemake.params.source["kind"]).read,
    **settings.sections(snakemake.params),
)
