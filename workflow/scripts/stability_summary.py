"""Stability of every graph of one (dataset, model, seed) in one table (rule stability_summary)."""


from topoact import plots, stability, store
from topoact.jobs import job_log
from topoact.steps.stability import read_distance_tables

with job_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    records = [store.read_json(path) for path in snakemake.input.records]
    distances = read_distance_tables(snakemake.input.distances)
    table = stability.summary_table(records, distances)
    store.write_tsv(table, snakemake.output.table)
    store.write_tsv(distances, snakemake.output.distances)
    plots.plot_significant_features(table, snakemake.params.layer_order, snakemake.output.plot,
                                    title=f"{w.dataset} · {w.model} seed {w.seed}: "
                                          "significant features of the mapper graphs")
    print(f"{len(table)} graphs", file=log)
