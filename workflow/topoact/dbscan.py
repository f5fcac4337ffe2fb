"""Exact DBSCAN with scikit-learn's semantics in bounded memory.

scikit-learn's DBSCAN materialises every point's ε-neighbourhood, which grows with the
square of a dense interval's size (a 460k-point activation cloud needs > 24 GB). This
implementation never holds more than a tile of distances:

1. points are sorted by their lens value ‖x‖; since |‖x‖ − ‖y‖| ≤ ‖x − y‖, a block of
   rows only meets the contiguous band of columns whose norms lie within ε of its own;
2. pass 1 counts neighbours (d ≤ ε, the point itself included) → core points;
3. pass 2 finds the connected components of core points tile by tile (each tile's
   components are reduced to (point, representative) pairs, then merged globally);
4. clusters are numbered in the order of their lowest-index core point, exactly as
   scikit-learn's expansion order numbers them;
5. pass 3 gives each non-core point within ε of a core point the cluster of lowest
   number among its core neighbours (the cluster scikit-learn's expansion reaches first).

Distances are computed in float64 with torch (so the same code runs on CUDA).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components


def _tiles(sorted_norms: np.ndarray, eps: float, tile: int):
    """Row blocks and, for each, the column band that can hold neighbours."""
    n = len(sorted_norms)
    for start in range(0, n, tile):
        stop = min(start + tile, n)
        lo = int(np.searchsorted(sorted_norms, sorted_norms[start] - eps, side="left"))
        hi = int(np.searchsorted(sorted_norms, sorted_norms[stop - 1] + eps, side="right"))
        for col in range(lo, hi, tile):
            yield start, stop, col, min(col + tile, hi)


def _adjacent(x: torch.Tensor, sq: torch.Tensor, rows: slice, cols: slice,
              eps2: float) -> torch.Tensor:
    """Boolean (rows × cols) matrix of d(x_i, x_j) ≤ ε."""
    d2 = sq[rows, None] + sq[None, cols] - 2.0 * (x[rows] @ x[cols].T)
    return d2 <= eps2


def dbscan(points: np.ndarray, eps: float, min_samples: int, tile: int = 2048,
           device: str | torch.device = "cpu") -> np.ndarray:
    """DBSCAN cluster labels (−1 = noise), identical to ``sklearn.cluster.DBSCAN``'s.

    Parameters
    ----------
    points
        (n, C) array; distances are Euclidean, computed in float64.
    eps
        Neighbourhood radius (d ≤ ε counts).
    min_samples
        Points within ε, the point itself included, that make a core point.
    tile
        Side of the distance tiles (memory ≈ 8·tile² bytes per temporary).
    device
        Torch device for the distance tiles.

    Returns
    -------
    np.ndarray
        int64 labels in scikit-learn's numbering.
    """
    n = len(points)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    x64 = np.asarray(points, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", x64, x64))
    order = np.argsort(norms, kind="stable")
    x = torch.from_numpy(np.ascontiguousarray(x64[order])).to(device)
    sq = (x * x).sum(1)
    sorted_norms = norms[order]
    # The norm band uses a hair of slack: the pruning must never drop a true neighbour
    # to rounding in the norms, and the distance test itself decides membership.
    band = eps * (1 + 1e-9) + 1e-12
    eps2 = float(eps) ** 2

    counts = torch.zeros(n, dtype=torch.int64, device=device)
    for r0, r1, c0, c1 in _tiles(sorted_norms, band, tile):
        counts[r0:r1] += _adjacent(x, sq, slice(r0, r1), slice(c0, c1), eps2).sum(1)
    core = (counts >= min_samples).cpu().numpy()
    if not core.any():
        return labels

    # Components of core points: each tile's components become (point, representative)
    # pairs, whose global components are those of the whole ε-graph of core points.
    core_t = torch.from_numpy(core).to(device)
    pair_a, pair_b = [], []
    for r0, r1, c0, c1 in _tiles(sorted_norms, band, tile):
        rows_core, cols_core = core[r0:r1], core[c0:c1]
        if not rows_core.any() or not cols_core.any():
            continue
        adjacency = _adjacent(x, sq, slice(r0, r1), slice(c0, c1), eps2)
        adjacency &= core_t[r0:r1, None] & core_t[None, c0:c1]
        ii, jj = (t.cpu().numpy() for t in torch.nonzero(adjacency, as_tuple=True))
        if len(ii) == 0:
            continue
        nr = r1 - r0
        local = sparse.coo_matrix((np.ones(len(ii), dtype=np.int8), (ii, jj + nr)),
                                  shape=(nr + (c1 - c0),) * 2)
        _, component = connected_components(local, directed=False)
        touched = np.unique(np.concatenate([ii, jj + nr]))
        first = np.full(component.max() + 1, len(component))
        np.minimum.at(first, component[touched], touched)  # lowest member represents
        representative = first[component[touched]]
        to_global = np.where(touched < nr, r0 + touched, c0 + touched - nr)
        rep_global = np.where(representative < nr, r0 + representative,
                              c0 + representative - nr)
        pair_a.append(to_global)
        pair_b.append(rep_global)
    a = np.concatenate(pair_a) if pair_a else np.zeros(0, np.int64)
    b = np.concatenate(pair_b) if pair_b else np.zeros(0, np.int64)
    graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, component = connected_components(graph, directed=False)

    # Number clusters by their lowest original index among core points.
    core_sorted = np.flatnonzero(core)
    core_original = order[core_sorted]
    comp = component[core_sorted]
    lowest = np.full(component.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(lowest, comp, core_original)
    used = np.unique(comp)
    rank = np.full(component.max() + 1, -1, dtype=np.int64)
    rank[used[np.argsort(lowest[used], kind="stable")]] = np.arange(len(used))
    cluster_sorted = np.full(n, -1, dtype=np.int64)
    cluster_sorted[core_sorted] = rank[comp]

    # Border points: the lowest-numbered cluster among their core neighbours.
    border = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    core_cluster = torch.from_numpy(np.where(core, cluster_sorted, np.iinfo(np.int64).max)
                                    ).to(device)
    border_t = torch.from_numpy(border).to(device)
    noncore_rows = ~core
    for r0, r1, c0, c1 in _tiles(sorted_norms, band, tile):
        if not noncore_rows[r0:r1].any() or not core[c0:c1].any():
            continue
        adjacency = _adjacent(x, sq, slice(r0, r1), slice(c0, c1), eps2)
        candidates = torch.where(adjacency, core_cluster[None, c0:c1],
                                 torch.iinfo(torch.int64).max).min(1).values
        border_t[r0:r1] = torch.minimum(border_t[r0:r1], candidates)
    border = border_t.cpu().numpy()
    assigned = noncore_rows & (border < np.iinfo(np.int64).max)
    cluster_sorted[assigned] = border[assigned]
    labels[order] = cluster_sorted
    return labels
