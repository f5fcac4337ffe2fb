"""One mapper graph of the grid, its purity table and figure (rule build_mapper): from
its layer's shared pass (mapper.jobs: shared), or built alone (graph)."""

from topoact import mapper, names, purity, store
from topoact.graph import EngineStats
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    w, params, output = snakemake.wildcards, snakemake.params, snakemake.output
    eps = (store.read_epsilon(snakemake.input.epsilon) if w.epsilon == "adaptive"
           else params.fixed_epsilon)
    attrs = {"layer": w.layer, "sampling": w.sampling, "model": w.model,
             "dataset": w.dataset, "seed": int(w.seed)}
    graph = mapper.GraphOutput(
        params.overlap, eps, output.graph, output.nodelink, output.kmapper,
        {"name": names.grid_name(w.overlap, w.epsilon, params.cover), **attrs})
    settings = {"intervals": params.intervals, "min_samples": params.min_samples,
                "cover": params.cover, "device": params.device, "tile": params.tile,
                "threads": snakemake.threads}
    # The layer's grid is read from the config, not params: a change to another graph
    # must not rerun this one (its own parameters are its params).
    grid = snakemake.config["mapper"]
    if grid["jobs"] == "shared":
        layer = mapper.layer_graphs(
            attrs, names.grid_parameters(grid["overlaps"], grid["epsilons"]),
            grid["fixed_epsilon"], params.layer_epsilon, params.cover)
        built, stats = mapper.shared_grid_graph(snakemake.input.points, params.layer_pass,
                                                graph, layer, **settings)
        print(f"ran the layer's pass for {', '.join(built)}: {stats}" if built
              else f"copied from the layer's pass in {params.layer_pass}", file=log)
    else:
        stats = EngineStats()
        mapper.mapper_grid_for_store(snakemake.input.points, [graph], stats=stats, **settings)
        print(f"engine: {stats}", file=log)
    print(f"{graph.attrs['name']}, ε = {eps:.6g}", file=log)
    purity.write_graph_report(
        output.graph, snakemake.input.points, output.purity, output.figure,
        {"dataset": w.dataset, "model": w.model, "seed": int(w.seed), "sampling": w.sampling,
         "layer": w.layer, "overlap": w.overlap, "epsilon": w.epsilon,
         "parameters": graph.attrs["name"]})
