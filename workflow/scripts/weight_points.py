"""One layer's normalised filters at one snapshot, or their update since the
initialisation (rule weight_points)."""


from topoact.jobs import job_log
from topoact.steps.weights import points_for_snapshot

with job_log(snakemake.log[0]) as log:
    w, params = snakemake.wildcards, snakemake.params
    points_for_snapshot(
        snakemake.input.snapshot, snakemake.output[0], layer=w.layer, slice_mode=params.slice,
        contrast_drop=params.contrast_drop, contrast_norm=params.contrast_norm, model=w.model,
        initial_path=snakemake.input.get("initial"))
