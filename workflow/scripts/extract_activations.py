"""Extract one (layer, sampling) activation store (rule extract_activations)."""


import torch

from topoact import activations, foreground, models, sampling, store
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    params, wildcards = snakemake.params, snakemake.wildcards
    device = models.resolve_device(params.device)
    model, metadata = models.load_model(snakemake.input.weights, device)
    settings = activations.ExtractionSettings(
        sampling=wildcards.sampling, seed=int(wildcards.seed), border=params.border,
        split=params.split, batch_size=params.batch_size,
        chunk_bytes=int(params.chunk_mb * 2**20), noise_sigma=params.noise_sigma,
        noise_seed=params.noise_seed, skip_tokens=params.skip_tokens,
    )
    sources = {"images": snakemake.input.images, "weights": snakemake.input.weights}
    scorer = None
    masked = sampling.masked_sampling(wildcards.sampling)
    if masked:
        sources["masks"], sources["receptive_fields"] = snakemake.input.foreground
        scorer = foreground.PositionScorer(
            foreground.ReceptiveFields.load(sources["receptive_fields"]),
            foreground.open_masks(sources["masks"]), background=masked[0] == "background",
            device=device)
    attrs = {
        "layer": wildcards.layer,
        "module": params.module,
        **store.provenance(
            {**vars(settings), "module": params.module, "device": str(device)},
            sources, settings.seed,
        ),
    }
    activations.extract_activations(model, params.module, snakemake.input.images,
                                    snakemake.output[0], settings, device, attrs, scorer=scorer)
