from spectrohar import settings
from spectrohar.cache import qc
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    qc.build,
    window_stores=snakemake.input.windows,
    dictionary=snakemake.input.dictionary,
    table=snakemake.output[0],
    **settings.sections(snakemake.params),
)
