"""Sensitivity test: top principal components deleted vs. the cross-seed baseline."""

import sys

from topoact import homology

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    params = snakemake.params
    homology.sensitivity_for_model(
        dict(zip(params.layers, snakemake.input.points, strict=True)),
        {seed: list(snakemake.input[f"seed-{seed}"]) for seed in params.seeds},
        snakemake.output.table, snakemake.output.plot, max_components=params.max_components,
        maxdim=params.maxdim, n_directions=params.directions, title=snakemake.wildcards.model,
    )
