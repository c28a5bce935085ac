from spectrohar import settings, train
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    train.build,
    spectrograms=snakemake.input.spectrograms,
    split_table=snakemake.input.split,
    checkpoint=snakemake.output.checkpoint,
    history_table=snakemake.output.history,
    **settings.sections(snakemake.params),
)
