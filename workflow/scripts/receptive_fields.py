"""Effective receptive fields of every position of one layer (rule receptive_fields)."""


import torch

from topoact import foreground, models, plots, store
from topoact.devices import resolve_device
from topoact.jobs import job_log
from topoact.steps.foreground import save_fields

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    params, wildcards = snakemake.params, snakemake.wildcards
    device = resolve_device(params.device)
    model, _ = models.load_model(snakemake.input.weights, device)
    images = store.open_store(snakemake.input.images, "images")["images"][:params.images]
    fields = foreground.receptive_fields(model, params.module, images, device, params.mass)
    save_fields(fields, snakemake.output.fields)
    plots.plot_receptive_fields(
        fields, snakemake.output.figure,
        f"{wildcards.model} seed {wildcards.seed}, {wildcards.layer}: measured receptive fields")
