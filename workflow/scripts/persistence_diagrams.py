"""Persistence diagrams of one layer's top-l2 cloud over the batches."""


from topoact.jobs import job_log
from topoact.steps.homology import diagrams_for_store

with job_log(snakemake.log[0]) as log:
    w, params = snakemake.wildcards, snakemake.params
    diagrams_for_store(
        snakemake.input.points, snakemake.input.images, snakemake.output.diagrams,
        snakemake.output.plot, layer=w.layer, n_images=params.images,
        n_batches=params.batches, maxdim=params.maxdim, seed=params.batch_seed,
        split=params.split,
    )
