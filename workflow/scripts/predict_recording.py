from spectrohar import settings
from spectrohar.log import run_logged
from spectrohar.prediction import predict

run_logged(
    snakemake.log[0],
    predict.build,
    recording=snakemake.input.recording,
    table=snakemake.output[0],
    model_file=snakemake.input.model,
    hmm_file=snakemake.input.get("hmm"),
    unit=snakemake.params.unit,
    calibrate=snakemake.params.calibrate,
    max_gap_s=snakemake.params.max_gap_s,
    timezone=snakemake.params.timezone,
    on_error=snakemake.params.on_error,
    device=snakemake.params.device,
    **settings.sections(snakemake.params),
)
