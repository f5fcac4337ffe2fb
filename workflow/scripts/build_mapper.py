"""One mapper graph of the grid, its purity table and figure (rule build_mapper): copied
from its layer's shared pass (mapper.jobs: shared), or built there (or alone: graph)."""

from topoact import names, passes
from topoact.files import read_epsilon
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    w, params, output = snakemake.wildcards, snakemake.params, snakemake.output
    points = snakemake.input.points
    eps = (read_epsilon(snakemake.input.epsilon) if w.epsilon == "adaptive"
           else params.fixed_epsilon)
    name = names.grid_name(w.overlap, w.epsilon, params.cover)
    # Each file of the graph in the layer's pass cache, and the output it is copied to.
    files = {".zarr": output.graph, ".json": output.nodelink, ".kmapper.json": output.kmapper,
             ".purity.tsv": output.purity, ".png": output.figure}
    # The layer's grid is read from the config, not params: a change to another graph
    # must not rerun this one (its own parameters are its params).
    grid = snakemake.config["mapper"]
    shared = grid["jobs"] == "shared"
    entry = passes.graph_entry(params.overlap, eps, params.intervals, params.min_samples,
                               params.cover, report=True)
    if shared and passes.copy_from_pass(params.layer_pass, passes.cloud_source(points), name,
                                        entry, files):
        print(f"copied from the layer's pass in {params.layer_pass}", file=log)
    else:
        # Here, not at the top: only a job that builds loads the engine, pandas and
        # matplotlib (most of a job's time otherwise).
        from topoact.graph import EngineStats
        from topoact.steps.mapper import (
            GraphOutput,
            layer_graphs,
            mapper_grid_for_store,
            shared_grid_graph,
        )
        from topoact.steps.purity import write_graph_report

        attrs = {"layer": w.layer, "sampling": w.sampling, "model": w.model,
                 "dataset": w.dataset, "seed": int(w.seed)}
        graph = GraphOutput(params.overlap, eps, output.graph, output.nodelink,
                            output.kmapper, {"name": name, **attrs})
        settings = {"intervals": params.intervals, "min_samples": params.min_samples,
                    "cover": params.cover, "device": params.device, "tile": params.tile,
                    "threads": snakemake.threads}
        layer_grid = names.grid_parameters(grid["overlaps"], grid["epsilons"])
        wildcards_of = {names.grid_name(o, e, params.cover): (names.percent_label(o), e)
                        for o, e in layer_grid}

        def report(graph_name, base):
            """The purity table and figure of a graph (``{base}.zarr``)."""
            overlap, epsilon = wildcards_of[graph_name]
            write_graph_report(
                f"{base}.zarr", points, f"{base}.purity.tsv", f"{base}.png",
                {"dataset": w.dataset, "model": w.model, "seed": int(w.seed),
                 "sampling": w.sampling, "layer": w.layer, "overlap": overlap,
                 "epsilon": epsilon, "parameters": graph_name})

        if shared:
            layer = layer_graphs(attrs, layer_grid, grid["fixed_epsilon"],
                                 params.layer_epsilon, params.cover)
            built, stats = shared_grid_graph(points, params.layer_pass, graph, layer,
                                             report=report, files=files, **settings)
            print(f"ran the layer's pass for {', '.join(built)}: {stats}" if built
                  else f"copied from the layer's pass in {params.layer_pass}", file=log)
        else:
            stats = EngineStats()
            mapper_grid_for_store(points, [graph], stats=stats, **settings)
            report(name, str(output.graph).removesuffix(".zarr"))
            print(f"engine: {stats}", file=log)
    print(f"{name}, ε = {eps:.6g}", file=log)
