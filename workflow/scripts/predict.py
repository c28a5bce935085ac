from spectrohar import predict, settings
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    predict.build,
    spectrograms=list(snakemake.input.spectrograms),
    split_table=snakemake.input.split,
    dictionary=snakemake.input.dictionary,
    checkpoint=snakemake.input.checkpoint,
    predictions=snakemake.output.predictions,
    memory_mb=snakemake.resources.mem_mb,
    **settings.sections(snakemake.params),
)
