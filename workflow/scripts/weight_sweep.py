"""A layer's H1 table over its dense cores and the final weights' barcodes (rule weight_sweep)."""


from topoact.jobs import job_log
from topoact.steps.weights import sweep_summary

with job_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    barcodes = {name: path for name, path in snakemake.input.items() if name != "summaries"}
    sweep_summary(snakemake.input.summaries, barcodes, snakemake.output.table,
                  snakemake.output.plot,
                  f"{w.model} {w.layer}, final weights: barcodes of X(k, p)")
