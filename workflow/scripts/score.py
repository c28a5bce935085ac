from spectrohar import score
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    score.build,
    predictions=snakemake.input.predictions,
    metrics=snakemake.output.metrics,
    classification_report=snakemake.output.classification_report,
)
