from spectrohar import recordings, settings
from spectrohar.log import run_logged

run_logged(
    snakemake.log[0],
    recordings.build,
    recording=snakemake.input.recording,
    table=snakemake.output[0],
    model_file=snakemake.input.model,
    hmm_file=snakemake.input.get("hmm"),
    **settings.sections(snakemake.params),
)
