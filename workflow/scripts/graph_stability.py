"""Extended persistence and bootstrap significance of one mapper graph (rule graph_stability)."""


import torch

from topoact import models, plots, stability, store
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    w, params, output = snakemake.wildcards, snakemake.params, snakemake.output
    meta = {"dataset": w.dataset, "model": w.model, "seed": int(w.seed),
            "sampling": w.sampling, "layer": w.layer, "parameters": params.parameters}
    result, record = stability.stability_for_store(
        snakemake.input.graph, snakemake.input.points, bootstrap=params.bootstrap,
        confidence=params.confidence, seed=params.resample_seed, meta=meta,
        device=models.resolve_device(params.device), tile=params.tile, log=log)
    table = stability.feature_table(result)
    store.write_tsv(table, output.features)
    store.write_json(output.record, record)
    plots.plot_extended_diagram(
        table, result.distances, result.d_alpha, params.confidence, output.plot,
        title=f"{w.model} seed {w.seed} · {w.layer} · {w.sampling} · {params.parameters}")
    print(f"{len(table)} features, {int(table['significant'].sum())} significant; "
          f"d_α = {record['d_alpha']} from {params.bootstrap} resamples", file=log)
