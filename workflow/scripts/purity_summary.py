"""Purity table and plots of one (dataset, model, seed) (rule purity_summary)."""

import sys

from topoact import purity

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    purity.summarise_purity(snakemake.input, snakemake.output.table, snakemake.output.node_plot,
                            snakemake.output.class_plot, snakemake.params.layer_order)
