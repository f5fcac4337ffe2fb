"""Profile one analysis's held-out images (rule profile_images)."""


import torch

from topoact import store
from topoact.devices import resolve_device
from topoact.jobs import job_log
from topoact.steps.profiling import profile_store

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    params, wildcards = snakemake.params, snakemake.wildcards
    sources = {"images": snakemake.input.images, "weights": snakemake.input.weights}
    settings = {"neuron": wildcards.neuron, "threshold": params.threshold,
                "split": params.split, "per_class": params.per_class,
                "inplace_add": params.inplace_add}
    profile_store(
        snakemake.input.weights, snakemake.input.images, snakemake.output[0],
        split=params.split, per_class=params.per_class, threshold=params.threshold,
        neuron=wildcards.neuron, batch_size=params.batch_size,
        inplace_add=params.inplace_add, device=resolve_device(params.device), log=log,
        attrs=store.provenance(settings, sources, None),
    )
