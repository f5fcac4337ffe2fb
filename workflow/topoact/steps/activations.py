"""The extraction step: one layer's activations of an images store, under one sampling,
streamed into an activations store (which appears only when complete)."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from topoact import models, store
from topoact import sampling as sampling_mod
from topoact.activations import ExtractionSettings, activation_batches, probe_layer


def extract_activations(model: nn.Module, module_path: str, images_path: str | os.PathLike,
                        out_path: str | os.PathLike, settings: ExtractionSettings,
                        device: torch.device, attrs: dict[str, Any] | None = None,
                        progress: bool = True, scorer=None) -> None:
    """Extract one layer's activations under one sampling into an activations store.

    Parameters
    ----------
    model
        The network, taking [0, 1] RGB input.
    module_path
        Module whose output is the layer's activation.
    images_path
        The images store.
    out_path
        The activations store to write (appears only when complete).
    settings
        Sampling, seed, border, split, batch size, chunk size.
    device
        Where to run the forward pass and the position selection.
    attrs
        Extra attributes (provenance) to save.
    progress
        Show a tqdm bar (on stderr).
    scorer
        A :class:`topoact.foreground.PositionScorer` (masks + receptive fields of this
        layer), required by the ``foreground-top{p}`` / ``background-top{p}`` samplings.
    """
    sampling_mod.check_sampling(settings.sampling)
    if sampling_mod.masked_sampling(settings.sampling) and scorer is None:
        raise ValueError(f"sampling {settings.sampling} needs masks and receptive fields")
    images_group = store.open_store(images_path, "images")
    info = store.image_store_info(images_group)
    start, stop = store.split_range(info, settings.split, images_path)
    images, labels = images_group["images"], images_group["labels"][:]
    if scorer is not None and scorer.masks.shape[0] != images.shape[0]:
        raise ValueError(f"the masks hold {scorer.masks.shape[0]} images but {images_path} "
                         f"holds {images.shape[0]}")
    model = model.to(device).eval()
    # One image tells the layer's shape, hence P, before anything is written.
    layer = probe_layer(model, module_path, images[start:start + 1], settings.skip_tokens,
                        device)
    if scorer is not None and scorer.fields.layer_shape != (layer.height, layer.width):
        raise ValueError(f"receptive fields are for a {scorer.fields.layer_shape} layer but "
                         f"{module_path} outputs {layer.height}×{layer.width} positions")
    per_image = sampling_mod.points_per_image(settings.sampling, layer.height, layer.width)
    layer_attrs = {
        "layer_shape": list(layer.raw_shape),
        "skip_tokens": settings.skip_tokens,
        "points_per_image": per_image,
        "image_range": [start, stop],
        "border": sampling_mod.effective_border(layer.height, layer.width, settings.border)
        if settings.sampling == "random" else None,
        "sampling": settings.sampling,
        "split": settings.split,
        "classes": info.classes,
        **(attrs or {}),
    }
    with store.atomic_group(out_path, "activations", layer_attrs) as group:
        writer = store.ActivationWriter(group, (stop - start) * per_image, layer.channels,
                                        settings.chunk_bytes)
        bar = tqdm(total=stop - start, desc=f"extract {settings.sampling}", unit="img",
                   disable=not progress)
        for batch in activation_batches(model, module_path, images, labels, start, stop,
                                        settings, device, scorer):
            writer.append(batch.points, batch.image, batch.position, batch.label)
            bar.update(batch.count)
        bar.close()
        writer.close()


def extract_for_store(weights_path: str | os.PathLike, images_path: str | os.PathLike,
                      out_path: str | os.PathLike, *, layer: str, module_path: str,
                      settings: ExtractionSettings, device: torch.device, scorer=None,
                      extra_sources: dict[str, str] | None = None,
                      progress: bool = True) -> None:
    """:func:`extract_activations` of a saved model, with the store's provenance: the
    layer, its module path, the settings and device, and the files it was made from
    (weights, images, and ``extra_sources`` such as a masked sampling's masks and
    receptive fields)."""
    model, _ = models.load_model(weights_path, device)
    sources = {"images": str(images_path), "weights": str(weights_path),
               **(extra_sources or {})}
    attrs = {"layer": layer, "module": module_path,
             **store.provenance({**vars(settings), "module": module_path,
                                 "device": str(device)}, sources, settings.seed)}
    extract_activations(model, module_path, images_path, out_path, settings, device, attrs,
                        progress=progress, scorer=scorer)
