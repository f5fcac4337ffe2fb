"""Exact DBSCAN with scikit-learn's semantics in bounded memory.

scikit-learn's DBSCAN materialises every point's ε-neighbourhood at once, which grows
with the square of a dense interval's size (a 460k-point activation cloud needed more
than 24 GB). Here the same neighbourhood queries (scikit-learn's ``NearestNeighbors``
with the algorithm DBSCAN would choose, so distances and ties are decided identically)
run on chunks of rows, and no chunk's lists outlive it:

0. exact duplicate points are collapsed into one point with a weight (background
   positions of a full activation map are often identical), in order of first
   occurrence, which keeps scikit-learn's numbering;
1. pass 1 counts each point's neighbours (d ≤ ε, itself included, duplicates by
   weight) → core points;
2. pass 2 joins core points adjacent within a chunk (the chunk's components become
   (point, representative) pairs) and notes the core neighbours of each non-core point
   (fewer than min_samples of them);
3. the global components of the pairs are the clusters, numbered in the order of their
   lowest-index core point, exactly as scikit-learn's expansion numbers them;
4. a non-core point next to core points joins the lowest-numbered of their clusters (the
   cluster scikit-learn's expansion reaches first); the rest is noise.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

#: Neighbour-list entries a chunk may produce before it is split (≈ 8 bytes each).
MAX_CHUNK_ENTRIES = 2_000_000
#: MB of distances scikit-learn may compute at once in a brute-force neighbour query.
WORKING_MEMORY_MB = 64


def _neighbour_chunks(model, x: np.ndarray, counts: np.ndarray, max_entries: int,
                      max_rows: int):
    """Yield ``(start, stop, indptr, indices)`` neighbour lists of row chunks.

    Chunks are sized from the neighbour counts so that a chunk's lists hold at most
    ``max_entries`` entries (or one row, if a single row holds more), and have at most
    ``max_rows`` rows (a query of r rows computes an r × n block of distances).
    """
    n = len(x)
    start = 0
    while start < n:
        budget = np.cumsum(counts[start:])
        rows = min(max_rows, max(1, int(np.searchsorted(budget, max_entries, "right"))))
        stop = min(n, start + rows)
        graph = model.radius_neighbors_graph(x[start:stop], mode="connectivity")
        yield start, stop, graph.indptr, graph.indices
        start = stop


def dbscan(points: np.ndarray, eps: float, min_samples: int,
           count_chunk: int = 256, max_chunk_entries: int = MAX_CHUNK_ENTRIES) -> np.ndarray:
    """DBSCAN cluster labels (−1 = noise), identical to ``sklearn.cluster.DBSCAN``'s.

    Parameters
    ----------
    points
        (n, C) array; distances are Euclidean, computed in float64.
    eps
        Neighbourhood radius (d ≤ ε counts).
    min_samples
        Points within ε, the point itself included, that make a core point.
    count_chunk
        Rows per neighbour query of the counting pass.
    max_chunk_entries
        Neighbour-list entries per query of the second pass (bounds its memory).

    Returns
    -------
    np.ndarray
        int64 labels in scikit-learn's numbering.
    """
    from sklearn import config_context

    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    # scikit-learn's brute-force queries take up to `working_memory` MB of distances at
    # once (1 GB by default); a small budget keeps this function's memory bounded.
    with config_context(working_memory=WORKING_MEMORY_MB):
        return _dbscan(points, eps, min_samples, count_chunk, max_chunk_entries)


def _dbscan(points, eps, min_samples, count_chunk, max_chunk_entries) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    x, weight, inverse = collapse_duplicates(np.asarray(points, dtype=np.float64))
    n = len(x)
    labels = np.full(n, -1, dtype=np.int64)
    model = NearestNeighbors(radius=eps).fit(x)  # the neighbour search DBSCAN itself uses

    # A query of r rows computes r × n distances (8 bytes each): cap r accordingly.
    count_chunk = max(1, min(count_chunk, (WORKING_MEMORY_MB << 20) // (8 * n)))
    counts = np.empty(n, dtype=np.int64)  # neighbour-list lengths (distinct points)
    weighted = np.empty(n, dtype=np.int64)  # neighbours counted with multiplicity
    for start in range(0, n, count_chunk):
        graph = model.radius_neighbors_graph(x[start:start + count_chunk], mode="connectivity")
        rows = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
        counts[start:start + count_chunk] = np.diff(graph.indptr)
        weighted[start:start + count_chunk] = np.bincount(rows, weights=weight[graph.indices],
                                                          minlength=graph.shape[0])
    core = weighted >= min_samples
    if not core.any():
        return labels[inverse]

    pair_a, pair_b, border_a, border_b = [], [], [], []
    for start, stop, indptr, indices in _neighbour_chunks(model, x, counts, max_chunk_entries,
                                                         count_chunk):
        rows = np.repeat(np.arange(start, stop), np.diff(indptr))
        keep = core[indices]
        rows, cols = rows[keep], indices[keep]  # edges to core neighbours only
        row_core = core[rows]
        # Components of this chunk's core–core edges, on the points they touch.
        a, b = rows[row_core], cols[row_core]
        touched, local = np.unique(np.concatenate([a, b]), return_inverse=True)
        m = len(touched)
        chunk_graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8),
                                         (local[:len(a)], local[len(a):])), shape=(m, m))
        _, component = connected_components(chunk_graph, directed=False)
        representative = np.full(component.max() + 1 if m else 0, n, dtype=np.int64)
        np.minimum.at(representative, component, touched)
        pair_a.append(touched)
        pair_b.append(representative[component])
        # Non-core rows have fewer than min_samples neighbours: keep their core ones.
        border_a.append(rows[~row_core])
        border_b.append(cols[~row_core])

    a, b = np.concatenate(pair_a), np.concatenate(pair_b)
    graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    core_index = np.flatnonzero(core)
    lowest = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(lowest, component[core_index], core_index)
    used = np.unique(component[core_index])
    rank = np.full(component.max() + 1, -1, dtype=np.int64)
    rank[used[np.argsort(lowest[used], kind="stable")]] = np.arange(len(used))
    labels[core_index] = rank[component[core_index]]
    br, bcore = np.concatenate(border_a), np.concatenate(border_b)
    if len(br):
        best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, br, rank[component[bcore]])
        assigned = best < np.iinfo(np.int64).max
        labels[assigned] = best[assigned]
    return labels[inverse]


def collapse_duplicates(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows in order of first occurrence, their multiplicities, and the map back.

    Returns
    -------
    distinct, weight, inverse
        ``distinct[inverse]`` equals ``x``.
    """
    unique, first, inverse, weight = np.unique(x, axis=0, return_index=True,
                                               return_inverse=True, return_counts=True)
    if len(unique) == len(x):
        return x, np.ones(len(x), dtype=np.int64), np.arange(len(x))
    order = np.argsort(first, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return unique[order], weight[order], position[inverse.ravel()]
