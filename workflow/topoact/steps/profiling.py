"""The profiling step: a model's held-out images (the first few of each class of a split)
profiled, and their neurons and synapses written as one profiles store."""

from __future__ import annotations

import os

import numpy as np
import torch

from topoact import models, store
from topoact.profiles.build import profile_images, select_images
from topoact.profiles.tables import (
    check_settings,
    to_tables,
)
from topoact.profiles.trace import layer_records


def heldout_images(images_path: str | os.PathLike, split: str, per_class: int, log=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The images to profile: the first ``per_class`` of each class in ``split``.

    Returns
    -------
    pixels, index, labels, classes
        uint8 (N, H, W, 3) pixels, their indices in the store, labels and class names.
    """
    group = store.open_store(images_path, "images")
    info = store.image_store_info(group)
    start, stop = store.split_range(info, split, images_path)
    labels = group["labels"][start:stop].astype(np.int64)
    chosen = select_images(labels, per_class, len(info.classes), log)
    pixels = group["images"].oindex[start + chosen]  # only the chosen images are read
    return pixels, start + chosen, labels[chosen], info.classes


def profile_store(weights_path: str | os.PathLike, images_path: str | os.PathLike,
                  out_path: str | os.PathLike, *, split: str = "test", per_class: int = 5,
                  threshold: float = 0.1, neuron: str = "channel", batch_size: int = 16,
                  inplace_add: bool = False, device: torch.device | str = "cpu", log=None,
                  attrs: dict | None = None) -> None:
    """Profile a model's held-out images and write the profiles store (zarr)."""
    check_settings(threshold, neuron)
    model, _ = models.load_model(weights_path, device)
    pixels, index, labels, classes = heldout_images(images_path, split, per_class, log)
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float() / 255
    found, layers = profile_images(model, x, threshold=threshold, neuron=neuron,
                                   batch_size=batch_size, inplace_add=inplace_add,
                                   device=device, progress=True)
    tables = {"image": index.astype(np.int64), "label": labels.astype(np.int16),
              **to_tables(found)}
    store.write_profiles(out_path, tables, {
        **(attrs or {}), "neuron": neuron, "threshold": float(threshold),
        "inplace_add": bool(inplace_add), "classes": list(classes),
        "layers": layer_records(layers)})
    if log is not None:
        sizes = [len(p.neurons["layer"]) for p in found]
        print(f"{len(found)} images profiled over {len(layers)} layers; neurons per "
              f"profile {min(sizes, default=0)}–{max(sizes, default=0)}", file=log)
