"""One dense core X(k, p) of a weight cloud: barcode, mapper graph, figures (rule weight_core)."""


from topoact.devices import resolve_device, set_threads
from topoact.jobs import job_log
from topoact.steps.weights import core_for_points

with job_log(snakemake.log[0]) as log:
    set_threads(snakemake.threads)
    params = snakemake.params
    core = core_for_points(
        snakemake.input.points, dict(snakemake.output.items()), k=params.k, keep=params.keep,
        maxdim=params.maxdim, lens=params.lens, intervals=params.intervals,
        overlap=params.overlap, min_samples=params.min_samples, cover=params.cover,
        device=resolve_device(params.device))
    print(f"{len(core.index)} filters kept; graph: {core.graph.n_nodes} nodes, "
          f"β0 = {core.betti[0]}, β1 = {core.betti[1]}, ε = {core.epsilon:.4g}", file=log)
