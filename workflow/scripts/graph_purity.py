"""Purity table of one mapper graph (rule graph_purity)."""


from topoact import purity, store
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    table = purity.purity_table_for_graph(
        snakemake.input.graph, snakemake.input.points,
        {"dataset": w.dataset, "model": w.model, "seed": int(w.seed), "sampling": w.sampling,
         "layer": w.layer, "overlap": w.overlap, "epsilon": w.epsilon,
         "parameters": snakemake.params.parameters},
    )
    store.write_tsv(table, snakemake.output[0])
