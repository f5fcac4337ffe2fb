"""DeepDataProfiler 2.0.1 as the test oracle: its profiles as our tables.

DDP is imported here only (it seeds torch's global generator when imported, so the import
restores the generator's state).
"""

import warnings

import numpy as np
import torch

from topoact.profiles.tables import Profile


def import_ddp():
    """The deep_data_profiler module, imported without touching torch's global RNG."""
    state = torch.random.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import deep_data_profiler
    torch.random.set_rng_state(state)
    return deep_data_profiler


def ddp_tables(profile, pred_dict) -> Profile:
    """A DDP profile's neuron counts and weights and its synapses as our tables (flat
    neuron indices; a residual add's block-diagonal synapse matrix split by predecessor)."""
    n_layer, n_neuron, n_count, n_weight = [], [], [], []
    for layer, counts in profile.neuron_counts.items():
        c = counts.tocoo()
        if c.shape == (0, 0):
            continue
        weights = {}
        w = profile.neuron_weights.get(layer)
        if w is not None and w.shape != (0, 0):
            w = w.tocoo()
            weights = {int(r) * w.shape[1] + int(k): v
                       for r, k, v in zip(w.row, w.col, w.data, strict=True)}
        for flat, value in zip(c.row.astype(np.int64) * c.shape[1] + c.col, c.data, strict=True):
            if value:
                n_layer.append(layer)
                n_neuron.append(int(flat))
                n_count.append(int(value))
                n_weight.append(float(weights.get(int(flat), 0.0)))
    syn = {k: [] for k in ("source_layer", "source", "target_layer", "target", "count",
                           "weight")}
    for layer, weights in profile.synapse_weights.items():
        w = weights.tocsr()
        w.sum_duplicates()
        w = w.tocoo()
        counts = profile.synapse_counts[layer].tocsr()
        preds = pred_dict[layer]
        half = w.shape[0] // 2 if len(preds) == 2 else None
        for r, c, v in zip(w.row, w.col, w.data, strict=True):
            if v == 0:
                continue
            which = 0 if half is None else int(c // half)
            syn["source_layer"].append(preds[which])
            syn["source"].append(int(c % half) if half else int(c))
            syn["target_layer"].append(layer)
            syn["target"].append(int(r % half) if half else int(r))
            syn["weight"].append(float(v))
            syn["count"].append(int(counts[r, c]))
    neurons = {"layer": np.array(n_layer, np.int64), "neuron": np.array(n_neuron, np.int64),
               "count": np.array(n_count, np.int64), "weight": np.array(n_weight)}
    return Profile(neurons, {k: np.array(v) for k, v in syn.items()})


def as_dicts(profile: Profile) -> tuple[dict, dict]:
    """(neurons {(layer, neuron): (count, weight)}, synapses {(sl, s, tl, t): (count, weight)})."""
    neurons = {(int(a), int(b)): (int(c), float(d)) for a, b, c, d in zip(
        *(profile.neurons[f] for f in ("layer", "neuron", "count", "weight")), strict=True)}
    synapses = {(int(a), int(b), int(c), int(d)): (int(e), float(f)) for a, b, c, d, e, f in zip(
        *(profile.synapses[f] for f in ("source_layer", "source", "target_layer", "target",
                                        "count", "weight")), strict=True)}
    return neurons, synapses


def assert_same(ours: Profile, theirs: Profile, atol: float = 1e-5) -> None:
    """The same neurons (counts equal, weights within atol) and the same synapses."""
    n1, s1 = as_dicts(ours)
    n2, s2 = as_dicts(theirs)
    assert n1.keys() == n2.keys(), sorted(n1.keys() ^ n2.keys())[:10]
    assert s1.keys() == s2.keys(), sorted(s1.keys() ^ s2.keys())[:10]
    for key in n1:
        assert n1[key][0] == n2[key][0], (key, n1[key], n2[key])
        assert abs(n1[key][1] - n2[key][1]) <= atol, (key, n1[key], n2[key])
    for key in s1:
        assert s1[key][0] == s2[key][0], (key, s1[key], s2[key])
        assert abs(s1[key][1] - s2[key][1]) <= atol, (key, s1[key], s2[key])


def recounted(theirs: Profile) -> Profile:
    """DDP's profile with each neuron's count recomputed from DDP's own influential neurons
    and synapses (1 if influential + 1 per synapse it is the source of)."""
    neurons, synapses = as_dicts(theirs)
    counts = {key: 1 for key, (_, weight) in neurons.items() if weight}
    for source_layer, source, _, _ in synapses:
        counts[(source_layer, source)] = counts.get((source_layer, source), 0) + 1
    keys = sorted(counts)
    table = {"layer": np.array([k[0] for k in keys]), "neuron": np.array([k[1] for k in keys]),
             "count": np.array([counts[k] for k in keys]),
             "weight": np.array([neurons.get(k, (0, 0.0))[1] for k in keys])}
    return Profile(table, theirs.synapses)
