"""The profile type (sparse tables of neurons and synapses), its sums and its columns.

Torch-free: the topology and similarity of stored profiles need only this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NEURON_KINDS = ("channel", "element")


class ProfileError(ValueError):
    """A model, setting or input the profiler cannot take (the message says which)."""


# --------------------------------------------------------------------------- profiles

NEURON_FIELDS = ("layer", "neuron", "count", "weight")
SYNAPSE_FIELDS = ("source_layer", "source", "target_layer", "target", "count", "weight")


@dataclass
class Profile:
    """A profile as sparse tables: neurons (layer, neuron, count, weight) and synapses
    (source layer, source, target layer, target, count, weight).

    A neuron's weight is its influence weight (0 where it only contributes); ``images``
    is how many image profiles were added into it.
    """

    neurons: dict[str, np.ndarray]
    synapses: dict[str, np.ndarray]
    images: int = 1

    def neuron_keys(self) -> np.ndarray:
        """One int64 key per neuron (layer in the high bits)."""
        return neuron_key(self.neurons["layer"], self.neurons["neuron"])

    def synapse_keys(self) -> np.ndarray:
        """One key per synapse (its source and target keys combined)."""
        source = neuron_key(self.synapses["source_layer"], self.synapses["source"])
        target = neuron_key(self.synapses["target_layer"], self.synapses["target"])
        return np.stack([source, target], axis=1)


def neuron_key(layer: np.ndarray, neuron: np.ndarray) -> np.ndarray:
    """One int64 key per (layer, neuron): the layer in the bits above 40."""
    return (np.asarray(layer, np.int64) << 40) | np.asarray(neuron, np.int64)


def _merge(keys: np.ndarray, counts: np.ndarray, weights: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with equal keys merged: counts added, weights count-weighted means."""
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    count = np.bincount(inverse, weights=counts, minlength=len(unique))
    weighted = np.bincount(inverse, weights=weights * counts, minlength=len(unique))
    return unique, count.astype(np.int64), np.divide(weighted, count, where=count > 0,
                                                     out=np.zeros_like(weighted))


def add_profiles(profiles: Sequence[Profile]) -> Profile:
    """The sum of profiles (a class profile): counts add, weights become count-weighted
    means (DDP's ``Profile.__add__``)."""
    if not profiles:
        raise ProfileError("no profiles to add")
    n = {f: np.concatenate([p.neurons[f] for p in profiles]) for f in NEURON_FIELDS}
    keys, count, weight = _merge(neuron_key(n["layer"], n["neuron"]), n["count"], n["weight"])
    neurons = {"layer": keys >> 40, "neuron": keys & ((1 << 40) - 1), "count": count,
               "weight": weight}
    s = {f: np.concatenate([p.synapses[f] for p in profiles]) for f in SYNAPSE_FIELDS}
    pairs = np.stack([neuron_key(s["source_layer"], s["source"]),
                      neuron_key(s["target_layer"], s["target"])], axis=1)
    pairs, count, weight = _merge(pairs, s["count"], s["weight"])
    synapses = {"source_layer": pairs[:, 0] >> 40, "source": pairs[:, 0] & ((1 << 40) - 1),
                "target_layer": pairs[:, 1] >> 40, "target": pairs[:, 1] & ((1 << 40) - 1),
                "count": count, "weight": weight}
    return Profile(neurons, synapses, sum(p.images for p in profiles))


def check_settings(threshold: float, neuron: str) -> None:
    """Refuse a threshold outside (0, 1] or an unknown neuron kind."""
    if neuron not in NEURON_KINDS:
        raise ProfileError(f"unknown neuron kind {neuron!r}; choose one of {list(NEURON_KINDS)}")
    if not 0 < float(threshold) <= 1:
        raise ProfileError(f"threshold {threshold} is outside (0, 1]: it is the share of "
                           "the total that the kept neurons may reach")


def layer_sizes(profile: Profile, n_layers: int) -> np.ndarray:
    """Number of neurons of the profile in each layer."""
    return np.bincount(profile.neurons["layer"].astype(np.int64), minlength=n_layers)


# --------------------------------------------------------------------------- stores


def to_tables(profiles: Sequence[Profile]) -> dict[str, np.ndarray]:
    """Profiles as flat columns ``neurons_*`` / ``synapses_*``, each row tagged with the
    position of its image (``*_image``)."""
    tables: dict[str, np.ndarray] = {}
    for part, fields in (("neurons", NEURON_FIELDS), ("synapses", SYNAPSE_FIELDS)):
        rows = [getattr(p, part) for p in profiles]
        tables[f"{part}_image"] = np.concatenate(
            [np.full(len(r[fields[0]]), i, np.int32) for i, r in enumerate(rows)]
            or [np.zeros(0, np.int32)])
        for f in fields:
            dtype = np.float64 if f == "weight" else np.int64
            tables[f"{part}_{f}"] = np.concatenate([np.asarray(r[f], dtype) for r in rows]
                                                   or [np.zeros(0, dtype)])
    tables.pop("synapses_count")  # 1 for every synapse of one image
    return tables


def from_tables(tables: dict[str, np.ndarray]) -> list[Profile]:
    """The per-image profiles of :func:`to_tables`' columns."""
    n_images = len(tables["image"])
    tables = {**tables, "synapses_count": np.ones(len(tables["synapses_source"]), np.int64)}
    split = {}
    for part, fields in (("neurons", NEURON_FIELDS), ("synapses", SYNAPSE_FIELDS)):
        owner = tables[f"{part}_image"]
        order = np.argsort(owner, kind="stable")
        bounds = np.searchsorted(owner[order], np.arange(n_images + 1))
        split[part] = [{f: tables[f"{part}_{f}"][order[a:b]] for f in fields}
                       for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return [Profile(n, s) for n, s in zip(split["neurons"], split["synapses"], strict=True)]
