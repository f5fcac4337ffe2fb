"""Every graph of one layer's grid in one engine pass, or gathered from its shards'
nodes (mapper.shards > 1), with each graph's purity table and figure (rule
build_mapper_grid)."""

from dataclasses import replace

from topoact import engine, names
from topoact.jobs import job_log
from topoact.steps.mapper import layer_graphs, mapper_grid_for_store
from topoact.steps.purity import write_graph_report
from topoact.steps.shards import gather_for_store

with job_log(snakemake.log[0]) as log:
    engine.tune_heap()  # glibc: freed tiles go back to the system (a long-lived pass)
    w, params, output = snakemake.wildcards, snakemake.params, snakemake.output
    attrs = {"layer": w.layer, "sampling": w.sampling, "model": w.model,
             "dataset": w.dataset, "seed": int(w.seed)}
    layer = layer_graphs(attrs, params.grid, params.fixed_epsilon,
                         snakemake.input.epsilon or None, params.cover)
    graphs = [replace(graph, graph_path=output.graphs[k], nodelink_path=output.nodelinks[k],
                      kmapper_path=output.kmappers[k]) for k, graph in enumerate(layer)]
    stats = engine.EngineStats()
    if snakemake.input.shards:
        built = gather_for_store(
            snakemake.input.points, snakemake.input.plan, list(snakemake.input.shards), graphs,
            min_samples=params.min_samples, threads=snakemake.threads)
    else:
        built = mapper_grid_for_store(
            snakemake.input.points, graphs, intervals=params.intervals,
            min_samples=params.min_samples, cover=params.cover, device=params.device,
            tile=params.tile, stats=stats, threads=snakemake.threads)
    for output_k, graph in zip(graphs, built, strict=True):
        print(f"{output_k.attrs['name']}: {graph.n_nodes} nodes, {len(graph.edges)} edges, "
              f"ε = {output_k.eps:.6g}", file=log)
    print(f"gathered from {len(snakemake.input.shards)} shards" if snakemake.input.shards
          else f"engine: {stats}", file=log)
    for k, (overlap, mode) in enumerate(params.grid):
        write_graph_report(
            output.graphs[k], snakemake.input.points, output.purities[k], output.figures[k],
            {**{key: attrs[key] for key in ("dataset", "model", "seed", "sampling", "layer")},
             "overlap": names.percent_label(overlap), "epsilon": mode,
             "parameters": graphs[k].attrs["name"]})
