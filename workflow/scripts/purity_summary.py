"""Purity table and plots of one (dataset, model, seed) (rule purity_summary)."""


from topoact import purity
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    purity.summarise_purity(snakemake.input, snakemake.output.table, snakemake.output.node_plot,
                            snakemake.output.class_plot, snakemake.params.layer_order)
