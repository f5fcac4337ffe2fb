"""Extended persistence and bootstrap significance of one mapper graph (rule graph_stability):
copied from its layer's shared pass on small clouds, or computed there (or alone)."""

from topoact import names, passes
from topoact.files import read_json
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    w, params, output = snakemake.wildcards, snakemake.params, snakemake.output
    points, graph = str(snakemake.input.points), str(snakemake.input.graph)
    meta = {"dataset": w.dataset, "model": w.model, "seed": int(w.seed),
            "sampling": w.sampling, "layer": w.layer, "parameters": params.parameters}
    # mapper.jobs: graph (file systems without locks across nodes) does each graph alone.
    grid = snakemake.config["mapper"]
    cache = params.layer_pass if grid["jobs"] != "graph" else None
    source = passes.stability_source(points, params.bootstrap, params.confidence,
                                     params.resample_seed)
    files = {".tsv": output.features, ".json": output.record, ".png": output.plot}
    if cache and passes.copy_from_pass(cache, source, params.parameters,
                                       passes.stability_entry(graph, meta), files):
        how = "copied"
    else:
        # Here, not at the top: only a job that computes loads the engine, gudhi, pandas
        # and matplotlib (most of a job's time otherwise).
        from topoact.steps.stability import StabilityOutput, layer_outputs, shared_graph_stability

        job = StabilityOutput(graph, output.features, output.record, output.plot, meta)
        # The layer's grid is read from the config, not params: a change to another
        # graph must not rerun this one.
        layer = layer_outputs(job, [
            names.grid_name(overlap, epsilon, grid["cover"])
            for overlap, epsilon in names.grid_parameters(grid["overlaps"], grid["epsilons"])])
        how = shared_graph_stability(
            points, cache, job, layer, bootstrap=params.bootstrap,
            confidence=params.confidence, seed=params.resample_seed, device=params.device,
            tile=params.tile, threads=snakemake.threads, log=log)
    record = read_json(output.record)
    print({"pass": "ran the layer's pass",
           "alone": "computed alone (a large cloud, or mapper.jobs: graph)",
           "copied": f"copied from the layer's pass in {params.layer_pass}"}[how], file=log)
    print(f"{record['n_features']} features, {sum(record['significant'].values())} "
          f"significant; d_α = {record['d_alpha']} from {params.bootstrap} resamples", file=log)
