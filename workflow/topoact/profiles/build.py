"""Profiles of images: one forward pass a batch, then each image's influential neurons
and synapses assembled into a :class:`~topoact.profiles.tables.Profile`; the workflow's
profiling step and ``topoact profile``'s model and JSON."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import fx, nn
from tqdm.auto import tqdm

from topoact import models
from topoact.profiles.synapses import Influence, Synapses, influential_neurons, layer_synapses
from topoact.profiles.tables import (
    Profile,
    ProfileError,
    check_settings,
    layer_sizes,
    neuron_key,
)
from topoact.profiles.trace import ProfileLayer, capture, layer_plan, layer_records


def assemble(layers: list[ProfileLayer], influence: dict[int, Influence],
             synapses: dict[int, Synapses]) -> Profile:
    """One image's profile from its influential neurons and synapses per layer.

    A neuron counts 1 if influential, plus 1 per synapse it is the source of (DDP's
    neuron counts); its weight is its influence weight.
    """
    def cat(parts: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    found = list(synapses.items())
    synapse_table = {
        "source_layer": cat([np.asarray(layers[t].preds)[s.pred.astype(np.int64)]
                             for t, s in found], np.int64),
        "source": cat([s.source for _, s in found], np.int64),
        "target_layer": cat([np.full(len(s.source), t) for t, s in found], np.int64),
        "target": cat([s.target for _, s in found], np.int64),
        "weight": cat([s.weight for _, s in found], np.float64),
    }
    synapse_table["count"] = np.ones(len(synapse_table["source"]), np.int64)
    # influential neurons (count 1, their weight) and synapse sources (count 1, weight 0)
    keys = np.concatenate([
        *(neuron_key(np.full(len(i.neurons), layer), i.neurons.cpu().numpy())
          for layer, i in influence.items()),
        neuron_key(synapse_table["source_layer"], synapse_table["source"])])
    weight = np.concatenate([*(i.weights.double().cpu().numpy() for i in influence.values()),
                             np.zeros(len(synapse_table["source"]))])
    unique, inverse = np.unique(keys, return_inverse=True)
    neurons = {"layer": unique >> 40, "neuron": unique & ((1 << 40) - 1),
               "count": np.bincount(inverse, minlength=len(unique)).astype(np.int64),
               "weight": np.bincount(inverse, weights=weight, minlength=len(unique))}
    return Profile(neurons, synapse_table)


def profile_batch(traced: fx.GraphModule, layers: list[ProfileLayer], x: torch.Tensor,
                  threshold: float = 0.1, neuron: str = "channel", inplace_add: bool = False
                  ) -> list[Profile]:
    """The profile of each image of a batch (one forward pass for the batch);
    ``inplace_add`` as in :func:`capture`."""
    check_settings(threshold, neuron)
    acts = capture(traced, layers, x, inplace_add)
    for layer in layers:
        layer.shape = tuple(acts[layer.head].shape[1:])
    influence: list[dict[int, Influence]] = [{} for _ in range(len(x))]
    synapses: list[dict[int, Synapses]] = [{} for _ in range(len(x))]
    with torch.no_grad():
        for layer in layers[1:]:
            head, tail = acts[layer.head], acts[layer.tail]
            chosen = influential_neurons(head, tail, threshold, neuron)
            inputs = [acts[layers[p].tail] for p in layer.preds]
            for b, found in enumerate(chosen):
                influence[b][layer.index] = found
                synapses[b][layer.index] = layer_synapses(
                    layer, [x_[b] for x_ in inputs], head[b], found.neurons, threshold, neuron)
    return [assemble(layers, i, s) for i, s in zip(influence, synapses, strict=True)]


def profile_images(model: nn.Module, images: np.ndarray | torch.Tensor, *,
                   threshold: float = 0.1, neuron: str = "channel", batch_size: int = 16,
                   inplace_add: bool = False, device: torch.device | str = "cpu",
                   progress: bool = False) -> tuple[list[Profile], list[ProfileLayer]]:
    """Profiles of images (N, 3, H, W, floats as the model takes them), in batches;
    ``inplace_add`` as in :func:`capture` (true reproduces DDP on residual networks).

    Returns
    -------
    profiles, layers
        One profile per image, and the model's DDP layers.
    """
    check_settings(threshold, neuron)
    model = model.to(device).eval()
    traced, layers = layer_plan(model)
    profiles: list[Profile] = []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="profiling", unit="batch", disable=not progress):
        batch = torch.as_tensor(np.asarray(images[start:start + batch_size]),
                                dtype=torch.float32, device=device)
        profiles.extend(profile_batch(traced, layers, batch, threshold, neuron, inplace_add))
    return profiles, layers


def select_images(labels: np.ndarray, per_class: int, n_classes: int, log=None) -> np.ndarray:
    """The first ``per_class`` images of each class (indices into ``labels``, ascending);
    a class with fewer uses what it has, and says so on ``log``."""
    chosen = []
    for c in range(n_classes):
        have = np.flatnonzero(labels == c)
        if len(have) < per_class and log is not None:
            print(f"class {c}: {len(have)} held-out images, fewer than the "
                  f"{per_class} asked; using {len(have)}", file=log)
        chosen.append(have[:per_class])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


# --------------------------------------------------------------------------- one image


def model_for_profiling(arch: str, weights: str | os.PathLike | None = None,
                        num_classes: int = 1000) -> tuple[nn.Module, int]:
    """A model by name, for ``topoact profile``: one of this package's architectures, or
    any torchvision classification model (behind ImageNet normalization, so it takes
    [0, 1] RGB); with a checkpoint's weights, else random (seed 0) ones.

    Returns
    -------
    model, input_size
    """
    if arch in models.ARCHITECTURES:
        known = models.get_architecture(arch)
        if weights is not None and models.sidecar_path(weights).exists():
            return models.load_model(weights)[0], known.input_size
        if weights is not None:
            return models.load_checkpoint(arch, weights, num_classes), known.input_size
        torch.manual_seed(0)
        return known.build(num_classes).eval(), known.input_size
    import torchvision  # here: it loads torch._dynamo, for these models only

    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise ProfileError(f"unknown architecture {arch!r}: give one of "
                           f"{sorted(models.ARCHITECTURES)} or a torchvision model name")
    torch.manual_seed(0)
    net = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("state_dict", state))
    return models.WithNormalize(net).eval(), 299 if arch == "inception_v3" else 224


def profile_payload(profile: Profile, layers: list[ProfileLayer]) -> dict:
    """One profile as JSON: its layers (with neurons per layer), neurons and synapses."""
    sizes = layer_sizes(profile, len(layers))
    records = layer_records(layers)
    for record, size in zip(records, sizes, strict=True):
        record["profile_neurons"] = int(size)
    n, s = profile.neurons, profile.synapses
    return {"layers": records,
            "neurons": [[int(a), int(b), int(c), float(d)] for a, b, c, d in
                        zip(n["layer"], n["neuron"], n["count"], n["weight"], strict=True)],
            "synapses": [[int(a), int(b), int(c), int(d), float(e)] for a, b, c, d, e in
                         zip(s["source_layer"], s["source"], s["target_layer"], s["target"],
                             s["weight"], strict=True)]}
