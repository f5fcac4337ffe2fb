"""Distances between the graphs of one layer's grid (rule grid_distances)."""


from topoact import plots, store
from topoact.jobs import job_log
from topoact.steps.stability import compare_graph_stores

with job_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    comparison = compare_graph_stores(dict(snakemake.input.items()))
    store.write_tsv(comparison.table(sampling=w.sampling, layer=w.layer),
                    snakemake.output.table)
    plots.plot_graph_distances(
        comparison.names, comparison.bottleneck, comparison.similarity, snakemake.output.plot,
        title=f"{w.model} seed {w.seed} · {w.layer} · {w.sampling}: graphs across the grid")
    print(f"{len(comparison.names)} graphs compared", file=log)
