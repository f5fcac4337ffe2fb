"""Extract one (layer, sampling) activation store (rule extract_activations)."""


import torch

from topoact import activations
from topoact.devices import resolve_device
from topoact.jobs import job_log
from topoact.steps.activations import extract_for_store
from topoact.steps.foreground import sampling_scorer

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    params, wildcards = snakemake.params, snakemake.wildcards
    device = resolve_device(params.device)
    settings = activations.ExtractionSettings(
        sampling=wildcards.sampling, seed=int(wildcards.seed), border=params.border,
        split=params.split, batch_size=params.batch_size,
        chunk_bytes=int(params.chunk_mb * 2**20), noise_sigma=params.noise_sigma,
        noise_seed=params.noise_seed, skip_tokens=params.skip_tokens,
    )
    masks, fields = snakemake.input.foreground or (None, None)
    extract_for_store(
        snakemake.input.weights, snakemake.input.images, snakemake.output[0],
        layer=wildcards.layer, module_path=params.module, settings=settings, device=device,
        scorer=sampling_scorer(wildcards.sampling, masks, fields, device),
        extra_sources={"masks": masks, "receptive_fields": fields} if masks else None)
