"""The weight-space trainings: an architecture trained from several seeds with its conv
weights kept at snapshots (or a model's given weights), written one store per snapshot."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from topoact import models, store
from topoact.steps.models import train_test_split
from topoact.weights.snapshots import FINAL, conv_module_path, snapshot_label


def train_snapshots(images_path: str | os.PathLike, architecture: str, layers: dict[str, str],
                    *, seeds: Sequence[int], snapshots: Sequence[int], epochs: int,
                    batch_size: int, learning_rate: float, weight_decay: float,
                    device: torch.device) -> dict[str, dict[str, np.ndarray]]:
    """Train one architecture from several seeds and keep its conv weights at snapshots.

    Each seed trains exactly as :func:`topoact.steps.models.train_from_store` would with the
    given settings; the snapshots only copy weights (the RNG stream is untouched).

    Parameters
    ----------
    layers
        Readable layer name → module path (a Conv2d or a block holding one).
    seeds
        One training per seed.
    snapshots
        Iterations (optimiser steps; 0 = the initialisation) to keep, besides the end.

    Returns
    -------
    dict
        Snapshot label → layer → (seeds, O, I, kh, kw) float32 weights.
    """
    group = store.open_store(images_path, "images")
    train, heldout, classes = train_test_split(group, images_path)
    labels = [snapshot_label(s) for s in snapshots] + [FINAL]
    kept: dict[str, dict[str, list[np.ndarray]]] = {s: {la: [] for la in layers} for s in labels}
    for seed in tqdm(list(seeds), desc="weight-space trainings", unit="training"):
        torch.manual_seed(seed)
        model = models.architecture_of(architecture).build(len(classes))
        convs = {la: dict(model.named_modules())[conv_module_path(model, la, path)]
                 for la, path in layers.items()}

        def keep(iteration, convs=convs):
            for la, conv in convs.items():
                kept[snapshot_label(iteration)][la].append(
                    conv.weight.detach().cpu().numpy().copy())

        models.train_classifier(model, train, heldout, epochs=epochs, batch_size=batch_size,
                                learning_rate=learning_rate, weight_decay=weight_decay,
                                seed=seed, device=device, snapshots=snapshots,
                                on_snapshot=keep, evaluate=False)
        keep(FINAL)
    return {s: {la: np.stack(w).astype(np.float32) for la, w in by_layer.items()}
            for s, by_layer in kept.items()}


def given_weights(weights_path: str | os.PathLike, layers: dict[str, str]
                  ) -> dict[str, np.ndarray]:
    """The conv weights of a model with given weights (one training): layer → (1, O, I, kh, kw)."""
    model, _ = models.load_model(weights_path)
    modules = dict(model.named_modules())
    return {la: modules[conv_module_path(model, la, path)].weight.detach().numpy()[None]
            for la, path in layers.items()}


def snapshots_for_model(images_path, weights_path, out_paths: dict[str, str], *,
                        architecture: str, layers: dict[str, str], seeds: Sequence[int],
                        snapshots: Sequence[int], training: dict[str, Any] | None,
                        device: torch.device) -> None:
    """Write one store per snapshot with the analysed layers' weights over every training.

    ``training`` (epochs, batch size, learning rate, weight decay) trains every seed;
    None takes the model's given weights from ``weights_path`` (one training, final
    weights only).
    """
    if training is None:
        found = {FINAL: given_weights(weights_path, layers)}
        seeds, source = [0], {"weights": str(weights_path)}
    else:
        found = train_snapshots(images_path, architecture, layers, seeds=seeds,
                                snapshots=snapshots, device=device, **training)
        source = {"images": str(images_path)}
    for label, path in out_paths.items():
        if label not in found:
            raise ValueError(f"weights.snapshots: no snapshot {label!r} was taken "
                             f"(taken: {sorted(found)})")
        attrs = {**store.provenance({"architecture": architecture, **(training or {})},
                                    source, None),
                 "snapshot": label, "seeds": [int(s) for s in seeds], "layers": layers}
        store.write_weight_snapshot(path, found[label], attrs)
