from spectrohar import settings
from spectrohar.log import run_logged
from spectrohar.models import forest

run_logged(
    snakemake.log[0],
    forest.build,
    features=list(snakemake.input.features),
    split_table=snakemake.input.split,
    dictionary=snakemake.input.dictionary,
    model_file=snakemake.output.model,
    history_table=snakemake.output.history,
    threads=snakemake.threads,
    model=settings.section("forest", snakemake.params.model),
    **settings.sections(snakemake.params),
)
