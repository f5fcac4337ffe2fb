"""Example images of a dataset clean and at each noise σ (rule noise_examples)."""


from topoact import plots, store
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    images = store.open_store(snakemake.input[0], "images")["images"][:6]
    plots.plot_noise_examples(images, snakemake.params.sigmas, snakemake.params.seed,
                              snakemake.output[0])
