"""Foreground masks of a dataset by grabCut or DeepLabV3 (rule foreground_masks)."""


import torch

from topoact import plots, store
from topoact.devices import resolve_device
from topoact.jobs import job_log
from topoact.steps.foreground import open_masks, write_masks

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    device = resolve_device(params.device)
    attrs = store.provenance(
        {"method": params.method, "margin": params.margin, "iterations": params.iterations,
         "device": str(device)},
        {"images": snakemake.input.images, **({"weights": snakemake.input.weights}
                                              if snakemake.input.weights else {})}, None)
    stats = write_masks(
        snakemake.input.images, snakemake.output.masks, params.method, margin=params.margin,
        iterations=params.iterations, weights_path=snakemake.input.weights or None,
        device=device, attrs=attrs)
    print(f"masks of {stats['images']} images: {stats['empty']} empty, {stats['full']} "
          "all foreground (those rank positions by receptive-field mass alone)", file=log)
    if stats["empty"] + stats["full"] > stats["images"] // 10:
        print(f"WARNING: {params.method} found no foreground/background split in "
              f"{stats['empty'] + stats['full']} of {stats['images']} images of "
              f"{snakemake.wildcards.dataset}; see {snakemake.output.examples}", file=log)
    images = store.open_store(snakemake.input.images, "images")["images"][:8]
    masks = open_masks(snakemake.output.masks)[:8]
    plots.plot_masks(images, masks, params.method, snakemake.output.examples)
