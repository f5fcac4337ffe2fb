"""Sliced-Wasserstein distances between the layers of one model (rule sw_distances)."""


from topoact.jobs import job_log
from topoact.steps.homology import sw_distances_for_model

with job_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    sw_distances_for_model(
        list(snakemake.input), snakemake.output.table, snakemake.output.heatmap,
        n_directions=snakemake.params.directions, title=f"{w.model} seed {w.seed}",
    )
