"""Purity of the clean and noisy variants of a dataset side by side (rule noise_purity)."""

import sys

from topoact import purity

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    tables = {float(name.split("-", 1)[1]): path for name, path in snakemake.input.items()}
    table = purity.purity_by_noise(tables, snakemake.output.table, snakemake.output.plot,
                                   snakemake.params.layer_order)
    print(f"{len(table)} rows for σ in {sorted(tables)}", file=log)
