"""A layer's H1 table over its dense cores and the final weights' barcodes (rule weight_sweep)."""

import sys

from topoact import weights

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    w = snakemake.wildcards
    barcodes = {name: path for name, path in snakemake.input.items() if name != "summaries"}
    weights.sweep_summary(snakemake.input.summaries, barcodes, snakemake.output.table,
                          snakemake.output.plot,
                          f"{w.model} {w.layer}, final weights: barcodes of X(k, p)")
