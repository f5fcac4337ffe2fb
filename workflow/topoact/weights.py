"""The topology of convolution weights (Gabrielsson & Carlsson 2019; Carlsson et al. 2008).

Points are the k×k spatial filters of a convolution layer, over many trainings of one
network and over snapshots of each training:

1. *Filters* — every slice W[o, i] of the layer's (O, I, k, k) weight tensor (``each``),
   or Σᵢ W[o, i] (``summed``: where the input channels are copies, as grey images drawn
   as RGB, only the sum acts on an image; the channels' own slices differ by their
   random initialisation alone).
2. *Normalisation* (Carlsson et al. 2008, on 3×3 image patches) — each filter is centred
   on its mean; the fraction ``contrast_drop`` with the lowest contrast (the norm after
   centring, Euclidean or the D-norm of Lee, Pedersen & Mumford) is dropped; the rest is
   scaled to unit norm, so the points lie on a sphere of dimension k² − 2.
3. *Density filter X(k, p)* — the codensity δ_k(x) is the distance to the k-th nearest
   neighbour (the point itself not counted); X(k, p) keeps the fraction p with the
   smallest codensity. Large k averages over wide neighbourhoods (one circle in the
   2008 paper); small k keeps finer structure (three circles).
4. *Topology* — ripser's H0/H1 barcodes of each dense core, and its mapper graph: a
   PCA or codensity lens, KeplerMapper's cover per lens dimension, DBSCAN by the
   project's exact engine with ε at the knee of the k-distance curve.

Each mapper node's mean filter is what the figures draw (Carlsson labels the circle
with mean weight matrices).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from ripser import ripser
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from torch import nn
from tqdm.auto import tqdm

from topoact import models, store
from topoact.epsilon import estimate_epsilon
from topoact.homology import finite, persistence
from topoact.mapper import build_mapper, codensity, make_lens, node_link, node_stats
from topoact.plots import plot_barcode_grid, plot_filter_graph, plot_weight_dynamics

SLICES = ("each", "summed")
CONTRAST_NORMS = ("euclidean", "dnorm")
FINAL = "final"


# --------------------------------------------------------------------------- filters


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


def spatial_filters(weight: np.ndarray, slice_mode: str = "each", layer: str = ""
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k×k spatial filters of an (O, I, kh, kw) convolution weight, one per row.

    Parameters
    ----------
    weight
        The layer's weight tensor.
    slice_mode
        ``each``: every slice W[o, i] is a point (O·I points); ``summed``: Σᵢ W[o, i]
        (O points, input channel −1).
    layer
        The layer's name, for error messages.

    Returns
    -------
    filters, out_channel, in_channel
        (P, kh·kw) float64 filters and the (o, i) each came from.
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"weights: layer {layer!r} has a weight of shape {weight.shape}; "
                         "a convolution's is (out, in, kh, kw)")
    n_out, n_in, kh, kw = weight.shape
    if kh * kw < 2:
        raise ValueError(f"weights: layer {layer!r} has {kh}×{kw} kernels; a spatial filter "
                         "needs at least 2 taps (a 1×1 convolution has no spatial shape)")
    if slice_mode == "summed":
        return (weight.sum(axis=1).reshape(n_out, kh * kw), np.arange(n_out),
                np.full(n_out, -1))
    if slice_mode != "each":
        raise ValueError(f"weights.slice: unknown value {slice_mode!r}; choose one of "
                         f"{list(SLICES)}")
    out_channel, in_channel = np.divmod(np.arange(n_out * n_in), n_in)
    return weight.reshape(n_out * n_in, kh * kw), out_channel, in_channel


def d_norm(patches: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The D-norm of Lee, Pedersen & Mumford: √Σ (xᵢ − xⱼ)² over 4-adjacent taps i ~ j."""
    grid = np.asarray(patches, dtype=np.float64).reshape(len(patches), *shape)
    across = np.diff(grid, axis=2) ** 2
    down = np.diff(grid, axis=1) ** 2
    return np.sqrt(across.sum(axis=(1, 2)) + down.sum(axis=(1, 2)))


@dataclass
class NormalisedFilters:
    """Filters after centring, the contrast cut and scaling (the weight-space points)."""

    points: np.ndarray
    kept: np.ndarray
    contrast: np.ndarray
    cut: float


def normalise_filters(filters: np.ndarray, shape: tuple[int, int], contrast_drop: float,
                      norm: str = "euclidean", layer: str = "") -> NormalisedFilters:
    """Centre each filter, drop the lowest-contrast fraction, scale the rest to unit norm.

    Parameters
    ----------
    filters
        (P, kh·kw) filters.
    shape
        (kh, kw).
    contrast_drop
        Fraction in [0, 1) of filters with the lowest contrast to drop.
    norm
        ``euclidean`` or ``dnorm``: the contrast measure and the norm scaled to 1.
    layer
        The layer's name, for error messages.

    Returns
    -------
    NormalisedFilters
        ``points`` (M, kh·kw) float32, ``kept`` their rows in ``filters``, ``contrast``
        of every filter and the ``cut`` below which filters were dropped.
    """
    if not 0.0 <= contrast_drop < 1.0:
        raise ValueError(f"weights.contrast_drop must be a percent in [0, 100), got "
                         f"{contrast_drop * 100:g}")
    if norm not in CONTRAST_NORMS:
        raise ValueError(f"weights.contrast_norm: unknown value {norm!r}; choose one of "
                         f"{list(CONTRAST_NORMS)}")
    centred = filters - filters.mean(axis=1, keepdims=True)
    contrast = d_norm(centred, shape) if norm == "dnorm" else np.linalg.norm(centred, axis=1)
    order = np.argsort(contrast, kind="stable")
    dropped = int(np.floor(contrast_drop * len(filters)))
    cut = float(contrast[order[dropped]]) if dropped < len(filters) else float("inf")
    kept = np.sort(order[dropped:])
    kept = kept[contrast[kept] > 0]  # a constant filter has no direction to scale
    if len(kept) == 0:
        raise ValueError(f"weights: layer {layer!r}: all {len(filters)} filters fall below the "
                         f"contrast cut (weights.contrast_drop = {contrast_drop * 100:g} %, "
                         "or every filter is constant)")
    points = centred[kept] / contrast[kept, None]
    return NormalisedFilters(points.astype(np.float32), kept, contrast, cut)


def density_filter(points: np.ndarray, k: int, keep: float) -> tuple[np.ndarray, np.ndarray]:
    """X(k, p): the fraction ``keep`` of points with the smallest codensity δ_k.

    Returns
    -------
    index, codensity
        The kept rows, ascending, and δ_k of every point.

    Raises
    ------
    ValueError
        When there are no more points than k, or ``keep`` is not in (0, 1].
    """
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"weights.keep must be a percent in (0, 100], got {keep * 100:g}")
    if len(points) <= k:
        raise ValueError(f"weights.density_k = {k} needs more than {k} filters, but only "
                         f"{len(points)} are left after the contrast cut")
    delta = codensity(points, k)
    count = max(1, int(round(keep * len(points))))
    return np.sort(np.argsort(delta, kind="stable")[:count]), delta


# --------------------------------------------------------------------------- topology


def longest_bars(diagram: np.ndarray, top: int = 5) -> dict[str, Any]:
    """The longest finite bars of a diagram and the ratio of the longest to the next."""
    bars = finite(diagram)
    persistence_ = np.sort(bars[:, 1] - bars[:, 0])[::-1]
    ratio = (float(persistence_[0] / persistence_[1]) if len(persistence_) > 1
             and persistence_[1] > 0 else (float("inf") if len(persistence_) else float("nan")))
    return {"bars": len(bars), "longest": [float(v) for v in persistence_[:top]],
            "ratio": ratio}


def graph_betti(n_nodes: int, edges: np.ndarray) -> tuple[int, int]:
    """(β0, β1) of a graph: components and independent cycles (edges − nodes + β0)."""
    if n_nodes == 0:
        return 0, 0
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    adjacency = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                                  shape=(n_nodes, n_nodes))
    components, _ = connected_components(adjacency, directed=False)
    return int(components), int(len(edges) - n_nodes + components)


def clique_betti1(n_nodes: int, edges: np.ndarray) -> int:
    """β1 of a graph's clique complex: its cycles, less those that triangles fill.

    Where four cubes of a 2-D cover overlap at a corner, the points there join four nodes
    pairwise (a K4: three independent cycles of the graph that are no hole of the data);
    the clique complex fills them. Computed by ripser on the graph's hop distances at
    scale 1 (the Vietoris–Rips complex of a graph at 1 is its clique complex).
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if n_nodes == 0 or len(edges) == 0:
        return 0
    both = np.concatenate([edges, edges[:, ::-1]])
    hops = sparse.coo_matrix((np.ones(len(both)), (both[:, 0], both[:, 1])),
                             shape=(n_nodes, n_nodes)).tocsr()
    h1 = ripser(hops, distance_matrix=True, maxdim=1, thresh=1.0)["dgms"][1]
    return int(np.isinf(h1[:, 1]).sum())


@dataclass
class CoreTopology:
    """One dense core X(k, p) with its barcode and mapper graph."""

    index: np.ndarray
    codensity: np.ndarray
    diagrams: list[np.ndarray]
    graph: Any
    epsilon: float
    betti: tuple[int, int]
    clique_betti1: int


def core_topology(points: np.ndarray, k: int, keep: float, *, maxdim: int = 1,
                  lens: str = "pca2", intervals: int = 4, overlap: float = 0.3,
                  min_samples: int = 5, cover: str = "kmapper", device: str = "cpu"
                  ) -> CoreTopology:
    """Density-filter a weight cloud and compute the dense core's barcode and mapper graph.

    Parameters
    ----------
    points
        (N, k²) normalised filters.
    k, keep
        The density filter X(k, p) (``keep`` a fraction).
    maxdim
        Highest homology dimension of the barcode.
    lens, intervals, overlap, min_samples, cover
        The mapper graph: lens (``pca1``, ``pca2``, ``codensity`` with the same k, or
        ``l2``), intervals per lens dimension, their overlap fraction, DBSCAN's
        min_samples (ε at the knee of the min_samples-distance curve) and the cover mode.
    device
        Where the engine computes distances.
    """
    index, delta = density_filter(points, k, keep)
    core = points[index]
    diagrams = persistence(core, maxdim)
    if len(core) <= min_samples:
        raise ValueError(f"the dense core X({k}, {keep:.0%}) has {len(core)} filters; its mapper "
                         f"graph needs more than weights.mapper.min_samples = {min_samples}")
    epsilon = estimate_epsilon(core, k=min_samples, max_points=None, exact_below=len(core))[0]
    lens_values = delta[index] if lens == "codensity" else make_lens(core, lens)
    graph = build_mapper(core, intervals, overlap, epsilon.epsilon, min_samples, cover,
                         lens=lens_values, device=device, lens_name=lens)
    return CoreTopology(index, delta, diagrams, graph, epsilon.epsilon,
                        graph_betti(graph.n_nodes, graph.edges),
                        clique_betti1(graph.n_nodes, graph.edges))


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


def points_for_snapshot(snapshot_path, out_path, *, layer: str, slice_mode: str,
                        contrast_drop: float, contrast_norm: str, model: str,
                        initial_path=None) -> None:
    """Normalise one layer's filters of one snapshot (every training) into a points store.

    With ``initial_path`` (the step-0 snapshot of the same trainings) the points are the
    learned updates W − W₀ of each training instead of the weights W.
    """
    weights, attrs = store.read_weight_snapshot(snapshot_path, layer)
    sources = {"snapshot": str(snapshot_path)}
    if initial_path is not None:
        initial, initial_attrs = store.read_weight_snapshot(initial_path, layer)
        if initial_attrs["seeds"] != attrs["seeds"] or initial.shape != weights.shape:
            raise ValueError(f"{initial_path}: not the initialisation of the trainings of "
                             f"{snapshot_path} (seeds or shapes differ)")
        weights = weights - initial
        attrs = {**attrs, "snapshot": f"{attrs['snapshot']}-update"}
        sources["initial"] = str(initial_path)
    rows = []
    for number, seed in enumerate(attrs["seeds"]):
        filters, out_channel, in_channel = spatial_filters(weights[number], slice_mode, layer)
        rows.append((filters, np.full(len(filters), seed), out_channel, in_channel))
    filters, seed, out_channel, in_channel = (np.concatenate(c) for c in zip(*rows, strict=True))
    shape = tuple(int(v) for v in weights.shape[-2:])
    normalised = normalise_filters(filters, shape, contrast_drop, contrast_norm, layer)
    kept = normalised.kept
    store.write_weight_points(out_path, normalised.points, {
        "seed": seed[kept], "out_channel": out_channel[kept], "in_channel": in_channel[kept],
        "contrast": normalised.contrast[kept]},
        {**store.provenance({"slice": slice_mode, "contrast_drop": contrast_drop,
                             "contrast_norm": contrast_norm}, sources, None),
         "model": model, "layer": layer, "snapshot": attrs["snapshot"], "kernel": list(shape),
         "filters": len(filters), "contrast_cut": normalised.cut,
         "seeds": attrs["seeds"]})


def core_for_points(points_path, out: dict[str, str], *, k: int, keep: float, maxdim: int,
                    lens: str, intervals: int, overlap: float, min_samples: int, cover: str,
                    device: str = "cpu") -> CoreTopology:
    """One dense core of a weight cloud: its store, barcode, mapper graph and figures.

    ``out`` names the files: ``dense`` (zarr), ``barcode`` (npz), ``summary`` (JSON),
    ``graph`` (zarr), ``nodelink`` (JSON), ``plot`` (PNG) and ``nodes`` (folder of the
    node images with ``index.json``, for the explorer).
    """
    points, arrays, attrs = store.read_weight_points(points_path)
    topology = core_topology(points, k, keep, maxdim=maxdim, lens=lens, intervals=intervals,
                             overlap=overlap, min_samples=min_samples, cover=cover,
                             device=device)
    index, graph = topology.index, topology.graph
    seeds = [int(s) for s in attrs["seeds"]]
    seed_rank = store.training_rank(arrays["seed"][index], seeds)
    classes = [f"training {s}" for s in seeds]
    params = {"density_k": k, "keep": keep, "lens": lens, "intervals": intervals,
              "overlap": overlap, "min_samples": min_samples, "cover": cover}
    core_attrs = {**store.provenance(params, {"points": str(points_path)}, None),
                  **{key: attrs[key] for key in ("model", "layer", "snapshot", "kernel")},
                  "seeds": seeds, "points_before_filter": len(points)}
    store.write_weight_points(out["dense"], points[index], {
        **{name: values[index] for name, values in arrays.items()},
        "codensity": topology.codensity[index], "source_row": index}, core_attrs)
    np.savez(out["barcode"], *topology.diagrams)
    stats = node_stats(graph, points[index], seed_rank, len(seeds))
    node_density = node_means(graph, topology.codensity[index])
    graph_attrs = {**core_attrs, "classes": classes, "n_points": graph.n_points,
                   "epsilon": topology.epsilon,
                   "points_in_no_node": int((~graph.covered()).sum())}
    store.write_graph(out["graph"], graph, stats, graph_attrs)
    store.write_json(out["nodelink"], node_link(graph, stats, classes, graph_attrs))
    title = (f"{attrs['layer']} {attrs['snapshot']}: X({k}, {keep:.0%}), "
             f"{len(index)} filters, β1 = {topology.betti[1]} "
             f"(clique complex: {topology.clique_betti1})")
    plot_filter_graph(graph, stats.mean_activation, node_density, tuple(attrs["kernel"]),
                      out["plot"], title, stats.position)
    write_node_images(stats.mean_activation, tuple(attrs["kernel"]), out["nodes"])
    summary = {"model": attrs["model"], "layer": attrs["layer"], "snapshot": attrs["snapshot"],
               "density_k": k, "keep": keep, "filters": len(points), "core": len(index),
               "h0": longest_bars(topology.diagrams[0]),
               "h1": longest_bars(topology.diagrams[1]) if maxdim >= 1 else None,
               "epsilon": topology.epsilon, "nodes": graph.n_nodes, "edges": len(graph.edges),
               "components": topology.betti[0], "graph_betti1": topology.betti[1],
               "clique_betti1": topology.clique_betti1}
    store.write_json(out["summary"], summary, indent=2)
    return topology


def node_means(graph, values: np.ndarray) -> np.ndarray:
    """The mean of a per-point value over each node's members (e.g. its codensity)."""
    return (graph.membership_matrix() @ np.asarray(values, dtype=np.float64)) / np.maximum(
        graph.sizes, 1)


def write_node_images(mean_filters: np.ndarray, shape: tuple[int, int], folder,
                      scale: int = 16) -> None:
    """Each node's mean filter as a grey PNG (``node-{id}.png``) with ``index.json``.

    Grey levels span each filter's own range (a filter's sign pattern is what it
    detects), magnified ``scale`` times with square pixels.
    """
    with store.atomic_directory(folder) as tmp:
        nodes = []
        for node, values in enumerate(np.asarray(mean_filters, dtype=np.float64)):
            grid = values.reshape(shape)
            span = np.ptp(grid)
            grey = (grid - grid.min()) / span if span > 0 else np.full(shape, 0.5)
            image = Image.fromarray((grey * 255).round().astype(np.uint8), mode="L")
            image = image.resize((shape[1] * scale, shape[0] * scale), Image.NEAREST)
            name = f"node-{node}.png"
            image.save(tmp / name)
            nodes.append({"id": node, "file": name})
        (tmp / "index.json").write_text(json.dumps({"nodes": nodes}))


def sweep_summary(summary_paths: Sequence[str], barcode_paths: dict[str, str], out_tsv,
                  plot_path, title: str = "") -> None:
    """The H1 table of every dense core of a layer and the sweep's barcodes side by side.

    ``barcode_paths`` maps a panel title (``X(15, 30%)``) to its barcode npz.
    """
    import pandas as pd  # here: every other weight-space job would pay its import

    rows = []
    for path in summary_paths:
        record = store.read_json(path)
        h1 = record["h1"] or {"longest": [], "ratio": float("nan"), "bars": 0}
        longest = h1["longest"] + [float("nan")] * (2 - len(h1["longest"][:2]))
        rows.append({"snapshot": record["snapshot"], "density_k": record["density_k"],
                     "keep": record["keep"], "filters": record["filters"],
                     "core": record["core"], "h1_bars": h1["bars"], "h1_longest": longest[0],
                     "h1_next": longest[1], "h1_ratio": h1["ratio"],
                     "graph_nodes": record["nodes"], "graph_edges": record["edges"],
                     "graph_components": record["components"],
                     "graph_betti1": record["graph_betti1"],
                     "clique_betti1": record["clique_betti1"], "epsilon": record["epsilon"]})
    store.write_tsv(pd.DataFrame(rows), out_tsv)
    panels = {name: load_barcode(path) for name, path in barcode_paths.items()}
    plot_barcode_grid(panels, plot_path, title)


def load_barcode(path) -> list[np.ndarray]:
    """The diagrams (dimension 0, 1, ...) saved by :func:`core_for_points`."""
    with np.load(path) as saved:
        return [saved[f"arr_{d}"] for d in range(len(saved.files))]


def dynamics_for_layer(snapshots: dict[str, dict[str, str]], plot_path, title: str = "") -> None:
    """One strip figure: the mapper graph and barcode of a layer's dense core per snapshot.

    ``snapshots`` maps a snapshot label, in training order, to the files of its dense
    core (``graph``, ``dense``, ``barcode``, ``summary``, as :func:`core_for_points`
    names them).
    """
    columns = []
    for label, files in snapshots.items():
        graph, stats, attrs = store.read_graph(files["graph"])
        _, dense, _ = store.read_weight_points(files["dense"])
        density = node_means(graph, dense["codensity"])
        columns.append({"label": label, "graph": graph, "positions": stats.position,
                        "filters": stats.mean_activation,
                        "density": density, "kernel": tuple(attrs["kernel"]),
                        "diagrams": load_barcode(files["barcode"]),
                        "summary": store.read_json(files["summary"])})
    plot_weight_dynamics(columns, plot_path, title)
