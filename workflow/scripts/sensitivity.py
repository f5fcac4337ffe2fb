"""Sensitivity test: top principal components deleted vs. the cross-seed baseline."""


from topoact.jobs import job_log
from topoact.steps.homology import sensitivity_for_model

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    sensitivity_for_model(
        dict(zip(params.layers, snakemake.input.points, strict=True)),
        {seed: list(snakemake.input[f"seed-{seed}"]) for seed in params.seeds},
        snakemake.output.table, snakemake.output.plot, max_components=params.max_components,
        maxdim=params.maxdim, n_directions=params.directions, title=snakemake.wildcards.model,
    )
