"""One layout per mapper graph: Fruchterman–Reingold from python-igraph (its C code).

The layout is computed once, when a graph is written (:func:`topoact.mapper.node_stats`),
and stored with it, so the graph's PNG and the explorer show the same picture.
"""

from __future__ import annotations

import multiprocessing
import random
import sys
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

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
    try:  # GraphBase's method: the coordinates as lists, without a Layout object's copy
        positions = np.array(igraph.GraphBase.layout_fruchterman_reingold(
            graph, weights=weights, niter=iterations))
    finally:
        igraph.set_random_number_generator(random)  # igraph's default again
    positions -= positions.min(axis=0)
    return positions / max(float(positions.max()), 1e-12)


def graph_layouts(sizes: Sequence[int], edge_lists: Sequence[np.ndarray],
                  weight_lists: Sequence[np.ndarray | None], workers: int = 1) -> list[np.ndarray]:
    """:func:`graph_layout` of several graphs, side by side in ``workers`` processes.

    igraph holds Python's GIL while it lays a graph out, so threads would take turns; the
    workers are forked (on Linux; elsewhere the graphs are laid out one after another),
    which start in milliseconds with igraph loaded. Each graph's positions equal
    :func:`graph_layout`'s with its defaults.
    """
    import igraph  # noqa: F401  (loaded before forking: each child has it)

    jobs = list(zip(sizes, edge_lists, weight_lists, strict=True))
    workers = min(workers, len(jobs))
    if workers <= 1 or not sys.platform.startswith("linux"):  # macOS: fork is unsafe
        return [graph_layout(*job) for job in jobs]
    with warnings.catch_warnings():
        # Python ≥ 3.12 warns on forking a threaded process (torch's, zarr's threads):
        # a child could inherit a lock another thread held. These children only run
        # igraph's C code on their arguments and send the positions back.
        warnings.filterwarnings("ignore", r"This process .* is multi-threaded",
                                DeprecationWarning)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(graph_layout, sizes, edge_lists, weight_lists))
