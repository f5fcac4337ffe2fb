"""Adaptive ε of one (sampling, layer) cloud (rule estimate_epsilon)."""


from topoact.jobs import job_log
from topoact.steps.epsilon import epsilon_for_store

with job_log(snakemake.log[0]) as log:
    w, params = snakemake.wildcards, snakemake.params
    estimate = epsilon_for_store(
        snakemake.input.points, snakemake.output.record, snakemake.output.plot,
        k=params.k, max_points=params.max_points or None, seed=int(w.seed),
        n_jobs=snakemake.threads, exact_below=params.exact_below, large=params.large_clouds,
        device=params.device,
        title=f"{w.model} seed {w.seed}: {w.layer} ({w.sampling})",
    )
    print(f"ε = {estimate.epsilon:.6g} from {estimate.points_used} of {estimate.n_points} "
          "points", file=log)
