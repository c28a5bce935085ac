from spectrohar import settings
from spectrohar.evaluation.split import checking_split
from spectrohar.log import run_logged
from spectrohar.models import hmm

run_logged(
    snakemake.log[0],
    checking_split(hmm.build),
    predictions=snakemake.input.predictions,
    window_stores=list(snakemake.input.windows),
    split_table=snakemake.input.split,
    dictionary=snakemake.input.dictionary,
    smoothed=snakemake.output.predictions,
    hmm_file=snakemake.output.hmm,
    **settings.sections(snakemake.params),
)
