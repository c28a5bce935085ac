from spectrohar import settings
from spectrohar.evaluation import evaluate
from spectrohar.evaluation.split import checking_split
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    checking_split(evaluate.build),
    family=snakemake.wildcards.model,
    stores=list(snakemake.input.stores),
    split_table=snakemake.input.split,
    dictionary=snakemake.input.dictionary,
    model_file=snakemake.input.model,
    predictions=snakemake.output.predictions,
    device=snakemake.params.device,
    memory_mb=snakemake.resources.mem_mb,
    threads=snakemake.threads,
    **settings.sections(snakemake.params),
)
