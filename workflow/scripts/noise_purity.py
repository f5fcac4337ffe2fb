"""Purity of the clean and noisy variants of a dataset side by side (rule noise_purity)."""


from topoact.jobs import job_log
from topoact.steps.purity import purity_by_noise

with job_log(snakemake.log[0]) as log:
    tables = dict(zip(snakemake.params.sigmas, snakemake.input.tables, strict=True))
    table = purity_by_noise(tables, snakemake.output.table, snakemake.output.plot,
                            snakemake.params.layer_order)
    print(f"{len(table)} rows for σ in {sorted(tables)}", file=log)
