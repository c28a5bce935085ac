from spectrohar.log import run_logged
from spectrohar.sources import annotations

run_logged(
    snakemake.log[0], annotations.join_tables, tables=snakemake.input, table=snakemake.output[0]
)
