"""Sliced-Wasserstein distances between the layers of one model (rule sw_distances)."""

import sys

from topoact import homology

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    w = snakemake.wildcards
    homology.sw_distances_for_model(
        list(snakemake.input), snakemake.output.table, snakemake.output.heatmap,
        n_directions=snakemake.params.directions, title=f"{w.model} seed {w.seed}",
    )
