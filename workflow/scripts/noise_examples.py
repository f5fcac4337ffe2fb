"""Example images of a dataset clean and at each noise σ (rule noise_examples)."""

import sys

from topoact import plots, store

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    images = store.open_store(snakemake.input[0], "images")["images"][:6]
    plots.plot_noise_examples(images, snakemake.params.sigmas, snakemake.params.seed,
                              snakemake.output[0])
