"""One mapper graph of the grid, its purity table and figure (rule build_mapper)."""


import torch

from topoact import engine, epsilon, mapper, models, names, purity
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    w, params, output = snakemake.wildcards, snakemake.params, snakemake.output
    eps = (epsilon.read_epsilon(snakemake.input.epsilon) if w.epsilon == "adaptive"
           else params.fixed_epsilon)
    name = names.grid_name(w.overlap, w.epsilon, params.cover)
    stats = engine.EngineStats()
    graph = mapper.mapper_for_store(
        snakemake.input.points, output.graph, output.nodelink, output.kmapper,
        intervals=params.intervals, overlap=params.overlap, eps=eps,
        min_samples=params.min_samples, cover=params.cover,
        device=models.resolve_device(params.device), tile=params.tile, stats=stats,
        attrs={"name": name, "layer": w.layer,
               "sampling": w.sampling, "model": w.model, "dataset": w.dataset,
               "seed": int(w.seed)},
    )
    print(f"{graph.n_nodes} nodes, {len(graph.edges)} edges, ε = {eps:.6g}; engine: {stats}",
          file=log)
    purity.write_graph_report(
        output.graph, snakemake.input.points, output.purity, output.figure,
        {"dataset": w.dataset, "model": w.model, "seed": int(w.seed), "sampling": w.sampling,
         "layer": w.layer, "overlap": w.overlap, "epsilon": w.epsilon,
         "parameters": name})
