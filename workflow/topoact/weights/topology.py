"""Dense cores of a weight cloud and their topology (steps 3–4 of :mod:`topoact.weights`):
the density filter X(k, p), barcodes and mapper graphs, the sweep's summary and the
dynamics over training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from topoact.epsilon import estimate_epsilon
from topoact.graph import EngineOptions
from topoact.homology import finite, persistence
from topoact.mapper import build_mapper, codensity, make_lens


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
    from ripser import ripser  # here: it loads scikit-learn, which the sweep's and the
    # dynamics' jobs do not need

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
                         lens=lens_values, lens_name=lens, engine=EngineOptions(device=device))
    return CoreTopology(index, delta, diagrams, graph, epsilon.epsilon,
                        graph_betti(graph.n_nodes, graph.edges),
                        clique_betti1(graph.n_nodes, graph.edges))


def node_means(graph, values: np.ndarray) -> np.ndarray:
    """The mean of a per-point value over each node's members (e.g. its codensity)."""
    return (graph.membership_matrix() @ np.asarray(values, dtype=np.float64)) / np.maximum(
        graph.sizes, 1)
