"""Purity table and plots of one (dataset, model, seed) (rule purity_summary)."""


from topoact.jobs import job_log
from topoact.steps.purity import summarise_purity

with job_log(snakemake.log[0]) as log:
    summarise_purity(snakemake.input, snakemake.output.table, snakemake.output.node_plot,
                     snakemake.output.class_plot, snakemake.params.layer_order)
