"""One layout per mapper graph: Fruchterman–Reingold from python-igraph (its C code).

The layout is computed once, when a graph is written (:func:`topoact.mapper.node_stats`),
and stored with it, so the graph's PNG and the explorer show the same picture.
"""

from __future__ import annotations

import random

import numpy as np


def graph_layout(n_nodes: int, edges: np.ndarray, weights: np.ndarray | None = None,
                 seed: int = 0, iterations: int = 500) -> np.ndarray:
    """Fruchterman–Reingold positions scaled into [0, 1]², deterministic given ``seed``.

    Parameters
    ----------
    n_nodes
        Number of nodes.
    edges
        (E, 2) node index pairs.
    weights
        Edge weights (the Jaccard index of the nodes; default 1): heavier edges pull
        harder.
    seed
        Seed of igraph's random numbers (its initial positions and moves).
    iterations
        igraph's ``niter``.
    """
    # igraph loads here, not at import: the workflow's parse imports the mapper module.
    import igraph

    if n_nodes == 0:
        return np.zeros((0, 2))
    if n_nodes == 1:
        return np.full((1, 2), 0.5)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph = igraph.Graph(n=n_nodes, edges=edges.tolist())
    weights = None if weights is None or not len(edges) else np.asarray(weights, float).tolist()
    igraph.set_random_number_generator(random.Random(seed))
    try:
        positions = np.array(graph.layout_fruchterman_reingold(weights=weights,
                                                               niter=iterations).coords)
    finally:
        igraph.set_random_number_generator(random)  # igraph's default again
    positions -= positions.min(axis=0)
    return positions / max(float(positions.max()), 1e-12)
