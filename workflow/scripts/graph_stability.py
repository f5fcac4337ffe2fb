"""Extended persistence and bootstrap significance of one mapper graph (rule graph_stability):
from its layer's shared pass on small clouds, alone on large ones."""


from topoact import names, stability, store
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    w, params, output = snakemake.wildcards, snakemake.params, snakemake.output
    meta = {"dataset": w.dataset, "model": w.model, "seed": int(w.seed),
            "sampling": w.sampling, "layer": w.layer, "parameters": params.parameters}
    job = stability.StabilityOutput(str(snakemake.input.graph), output.features,
                                    output.record, output.plot, meta)
    # The layer's grid is read from the config, not params: a change to another graph
    # must not rerun this one.
    grid = snakemake.config["mapper"]
    layer = stability.layer_outputs(job, [
        names.grid_name(overlap, epsilon, grid["cover"])
        for overlap, epsilon in names.grid_parameters(grid["overlaps"], grid["epsilons"])])
    # mapper.jobs: graph (file systems without locks across nodes) does each graph alone.
    cache = params.layer_pass if grid["jobs"] != "graph" else None
    how = stability.shared_graph_stability(
        str(snakemake.input.points), cache, job, layer,
        bootstrap=params.bootstrap, confidence=params.confidence, seed=params.resample_seed,
        device=params.device, tile=params.tile, threads=snakemake.threads, log=log)
    record = store.read_json(output.record)
    print({"pass": "ran the layer's pass",
           "alone": "computed alone (a large cloud, or mapper.jobs: graph)",
           "copied": f"copied from the layer's pass in {params.layer_pass}"}[how], file=log)
    print(f"{record['n_features']} features, {sum(record['significant'].values())} "
          f"significant; d_α = {record['d_alpha']} from {params.bootstrap} resamples", file=log)
