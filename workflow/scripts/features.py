from spectrohar.cache import features
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    features.build,
    window_store=snakemake.input[0],
    store=snakemake.output[0],
    threads=snakemake.threads,
)
