"""Example images of a dataset clean and at each noise σ (rule noise_examples)."""


from topoact import activations, plots, store
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    images = store.open_store(snakemake.input[0], "images")["images"][:6]
    rows = activations.noisy_examples(images, snakemake.params.sigmas, snakemake.params.seed)
    plots.plot_noise_examples(rows, snakemake.output[0])
