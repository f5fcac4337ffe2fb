"""The trainings of a weight-space study and the snapshots of their weights (torch)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from topoact import models, store

FINAL = "final"


#: Modules that act per element or per channel: a layer hooked after one of them (AlexNet's
#: ``conv1`` is the ReLU ``features.1``) is the convolution before it.
POINTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
             nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.Identity)


def conv_module_path(model: nn.Module, layer: str, path: str) -> str:
    """The module path of the convolution a layer names.

    ``path`` may name a ``Conv2d``, a block holding exactly one (the embedded model's
    ``conv1`` is Conv2d + BatchNorm + ReLU), or a pointwise module (ReLU, BatchNorm, ...)
    that follows a ``Conv2d`` in a ``Sequential`` (AlexNet's readable layers name the
    ReLU after each convolution).

    Raises
    ------
    ValueError
        Naming the layer when it holds no convolution or several.
    """
    modules = dict(model.named_modules())
    if path not in modules:
        raise ValueError(f"layer {layer!r}: module {path!r} not found in the model")
    if isinstance(modules[path], nn.Conv2d):
        return path
    convs = [name for name, m in modules[path].named_modules() if isinstance(m, nn.Conv2d)]
    if not convs and isinstance(modules[path], POINTWISE):
        before = _conv_before(modules, path)
        if before is not None:
            return before
    if len(convs) != 1:
        found = "no Conv2d" if not convs else f"{len(convs)} Conv2d modules ({convs})"
        raise ValueError(f"weights: layer {layer!r} (module {path!r}) is not a convolution: it "
                         f"holds {found}; name a Conv2d or a block with exactly one")
    return f"{path}.{convs[0]}" if convs[0] else path


def _conv_before(modules: dict[str, nn.Module], path: str) -> str | None:
    """The Conv2d that a pointwise module of a Sequential follows, through other
    pointwise modules; None when there is none."""
    parent, _, index = path.rpartition(".")
    if not index.isdigit() or not isinstance(modules.get(parent), nn.Sequential):
        return None
    for position in range(int(index) - 1, -1, -1):
        sibling = f"{parent}.{position}" if parent else str(position)
        if isinstance(modules[sibling], nn.Conv2d):
            return sibling
        if not isinstance(modules[sibling], POINTWISE):
            return None
    return None


# --------------------------------------------------------------------------- trainings


def snapshot_label(iteration: int | str) -> str:
    """``iteration-50`` for 50; ``final`` for the trained weights."""
    return FINAL if iteration == FINAL else f"iteration-{int(iteration)}"


def train_snapshots(images_path: str | os.PathLike, architecture: str, layers: dict[str, str],
                    *, seeds: Sequence[int], snapshots: Sequence[int], epochs: int,
                    batch_size: int, learning_rate: float, weight_decay: float,
                    device: torch.device) -> dict[str, dict[str, np.ndarray]]:
    """Train one architecture from several seeds and keep its conv weights at snapshots.

    Each seed trains exactly as :func:`topoact.models.train_from_store` would with the
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
    train, heldout, classes = models.train_test_split(group, images_path)
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


# --------------------------------------------------------------------------- workflow steps


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
