from spectrohar import settings
from spectrohar.evaluation.split import checking_split
from spectrohar.log import run_logged
from spectrohar.models import FAMILIES

run_logged(
    snakemake.log[0],
    checking_split(FAMILIES[snakemake.params.family].module.fit),
    stores=list(snakemake.input.stores),
    split_table=snakemake.input.split,
    dictionary=snakemake.input.dictionary,
    model_file=snakemake.output.model,
    history_table=snakemake.output.history,
    memory_mb=snakemake.resources.mem_mb,
    threads=snakemake.threads,
    **settings.sections(snakemake.params.sections),
)
