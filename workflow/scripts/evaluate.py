from spectrohar import evaluate
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    evaluate.build,
    spectrograms=snakemake.input.spectrograms,
    split_table=snakemake.input.split,
    checkpoint=snakemake.input.checkpoint,
    predictions=snakemake.output.predictions,
    metrics=snakemake.output.metrics,
    report=snakemake.output.report,
    **snakemake.params.settings,
)
