from spectrohar import settings
from spectrohar.cache import spectrogram
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    spectrogram.build,
    window_store=snakemake.input[0],
    store=snakemake.output[0],
    threads=snakemake.threads,
    **settings.sections(snakemake.params),
)
