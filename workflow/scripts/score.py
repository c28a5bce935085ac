from spectrohar import settings
from spectrohar.evaluation import score
from spectrohar.evaluation.split import checking_split
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    checking_split(score.build),
    predictions=snakemake.input.predictions,
    split_table=snakemake.input.split,
    metrics=snakemake.output.metrics,
    classification_report=snakemake.output.classification_report,
    **snakemake.params.bootstrap,
    **settings.sections(snakemake.params),
)
