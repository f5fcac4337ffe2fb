"""One shard of a cloud's grid: every overlap × ε of its intervals, from its rows only
(rule build_mapper_shard, mapper.shards > 1)."""

from topoact import engine
from topoact.jobs import job_log
from topoact.steps.mapper import layer_graphs
from topoact.steps.shards import shard_for_store

with job_log(snakemake.log[0]) as log:
    w, params = snakemake.wildcards, snakemake.params
    layer = layer_graphs({}, params.grid, params.fixed_epsilon,
                         snakemake.input.epsilon or None, params.cover)
    stats = engine.EngineStats()
    partial = shard_for_store(
        snakemake.input.points, snakemake.input.plan, int(w.shard), snakemake.output.nodes,
        epsilons=list(dict.fromkeys(graph.eps for graph in layer)),
        min_samples=params.min_samples, device=params.device, tile=params.tile, stats=stats,
        threads=snakemake.threads)
    print(f"shard {w.shard}: intervals [{partial.start}, {partial.stop}), "
          f"{sum(len(n[1]) for n in partial.nodes.values())} nodes over the grid", file=log)
    print(f"engine: {stats}", file=log)
