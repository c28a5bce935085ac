from spectrohar import predict, settings
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    predict.build,
    spectrograms=snakemake.input.spectrograms,
    split_table=snakemake.input.split,
    checkpoint=snakemake.input.checkpoint,
    predictions=snakemake.output.predictions,
    **settings.sections(snakemake.params),
)
