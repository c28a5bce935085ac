from spectrohar import settings, train
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    train.build,
    spectrograms=list(snakemake.input.spectrograms),
    split_table=snakemake.input.split,
    dictionary=snakemake.input.dictionary,
    checkpoint=snakemake.output.checkpoint,
    history_table=snakemake.output.history,
    memory_mb=snakemake.resources.mem_mb,
    threads=snakemake.threads,
    model=settings.section("cnn", snakemake.params.model),
    **settings.sections(snakemake.params),
)
