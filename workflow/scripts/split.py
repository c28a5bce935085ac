from spectrohar import settings
from spectrohar.evaluation import split
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    split.build,
    split_table=snakemake.output[0],
    window_stores=snakemake.input.windows,
    metadata=snakemake.input.get("metadata"),
    **settings.sections(snakemake.params),
)
