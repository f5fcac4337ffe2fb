"""Dense cores of a weight cloud and their topology (steps 3–4 of :mod:`topoact.weights`):
the density filter X(k, p), barcodes and mapper graphs, the sweep's summary and the
dynamics over training."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from topoact import store
from topoact.epsilon import estimate_epsilon
from topoact.homology import finite, persistence
from topoact.mapper import build_mapper, codensity, make_lens, node_link, node_stats
from topoact.plots import plot_barcode_grid, plot_filter_graph, plot_weight_dynamics


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
    from ripser import ripser  # here: it loads scikit-learn (~1 s), which the sweep's and
    # the dynamics' jobs do not need

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
