from spectrohar import settings, spectrogram
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    spectrogram.build,
    window_stores=snakemake.input.windows,
    store=snakemake.output[0],
    dictionary=snakemake.input.dictionary,
    threads=snakemake.threads,
    **settings.sections(snakemake.params),
)
