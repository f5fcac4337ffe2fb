"""The recompute path, for an interval whose close pairs do not fit in the edge-list
budget: each pass (neighbour counts, union–find of core points, borders) computes its
distance tiles again, skipping the tiles it can prove it does not need."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from topoact.engine import tiles
from topoact.engine.tiles import Interval, number_clusters


def find_roots(parent: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The union–find roots of ``items`` (``parent`` points each item towards its root)."""
    roots = parent[items]
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            return roots
        roots = up


def union_roots(parent: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> None:
    """Merge the components of root pairs (ra[k], rb[k]); roots become component minima.

    Linear in the interval's size and the number of pairs (no sorting)."""
    n = len(parent)
    graph = sparse.coo_matrix((np.ones(len(ra), np.int8), (ra, rb)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    lowest = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(lowest, component, np.arange(n))
    is_root = parent == np.arange(n)
    parent[is_root] = lowest[component[is_root]]


def count_neighbours(part: Interval, pairs: list[tuple[int, int]], multiplicity: torch.Tensor,
                     min_samples: int) -> torch.Tensor:
    """Weighted neighbour counts ``(P, k, n)`` within each cover's interval, for each ε.

    A tile pair is computed once for both blocks, only for rows that are still below
    ``min_samples`` in some graph they belong to (the others are known core), so a
    count may stop early once it reaches ``min_samples``.
    """
    member = multiplicity > 0
    member_w = multiplicity.T.contiguous()                                    # (n, P)
    k = len(part.eps2)
    counts = torch.zeros(len(multiplicity), k, multiplicity.shape[1],
                         device=multiplicity.device, dtype=torch.float32)

    def add(e, target, close, source):
        # counts[p, e, target] += Σ_source close · w · [source in cover p]
        counts[:, e, target] += (close @ member_w[source]).T

    for b, c in pairs:
        open_mask = ((counts < min_samples) & member[:, None, :]).flatten(0, 1).any(dim=0)
        open_b = part.span(b, open_mask)
        if b == c:
            if len(open_b):
                tile_bb = part.distances(open_b, part.span(b))
                for e in range(k):
                    add(e, open_b, part.close(tile_bb, e).float(), part.span(b))
            continue
        open_c = part.span(c, open_mask)
        if len(open_b) == 0 and len(open_c) == 0:
            part.stats.tiles_skipped += 1
            continue
        cols = part.span(c)
        if len(open_b):  # open rows of b against all of c: counts of both sides
            strip = part.distances(open_b, cols)
            for e in range(k):
                close = part.close(strip, e).float()
                add(e, open_b, close, cols)
                add(e, cols, close.T, open_b)
        closed_b = part.span(b, ~open_mask)
        if len(open_c) and len(closed_b):  # the rest of b against the open rows of c
            strip = part.distances(closed_b, open_c)
            for e in range(k):
                add(e, open_c, part.close(strip, e).float().T, closed_b)
    return counts


def _graphs_to_join(parents: dict, core: np.ndarray, rows: np.ndarray, cols: np.ndarray
                    ) -> list[tuple[int, int]]:
    """The (cover, ε) graphs in which a tile's core points are not yet one component."""
    needed = []
    for (p, e), parent in parents.items():
        rb = find_roots(parent, rows[core[p, e, rows]])
        rc = find_roots(parent, cols[core[p, e, cols]])
        if len(rb) and len(rc) and not (rb.min() == rb.max() == rc.min() == rc.max()):
            needed.append((p, e))
    return needed


def join_cores(part: Interval, pairs: list[tuple[int, int]], core_t: torch.Tensor,
               order: np.ndarray, labels: np.ndarray) -> None:
    """Number the core points' clusters of every graph into ``labels`` (P, k, n).

    Union–find over core × core tiles, diagonal first; a tile whose core points already
    share one component (in every graph) is skipped. A tile's close pairs are listed
    once per ε; each graph filters that list.
    """
    covers, k, n = core_t.shape
    device = core_t.device
    core = core_t.cpu().numpy()
    core_any_t = core_t.flatten(0, 1).any(dim=0)
    core_by_eps = core_t.any(dim=0)                                         # (k, n)
    parents = {(p, e): np.arange(n) for p in range(covers) for e in range(k)}
    for b, c in pairs:
        rows_b, cols_c = part.span(b, core_any_t), part.span(c, core_any_t)
        if len(rows_b) == 0 or len(cols_c) == 0:
            continue
        needed = _graphs_to_join(parents, core, rows_b.cpu().numpy(), cols_c.cpu().numpy())
        if not needed:
            part.stats.tiles_skipped += 1
            continue
        cols_np = cols_c.cpu().numpy()
        # In slabs of rows, so that listing a dense tile's pairs stays small.
        for rows_s in rows_b.split(max(1, tiles.SLAB_PAIRS // len(cols_c))):
            rows_np = rows_s.cpu().numpy()
            tile_bc = part.distances(rows_s, cols_c)
            for e in sorted({e for _, e in needed}):
                close = part.close(tile_bc, e)
                close &= core_by_eps[e, rows_s][:, None] & core_by_eps[e, cols_c][None, :]
                i, j = close.nonzero(as_tuple=True)
                for p in (p for p, e2 in needed if e2 == e):
                    # Only pairs of core points whose components differ go to the
                    # union–find (in a tile already joined that is few of its pairs).
                    roots_r = torch.as_tensor(find_roots(parents[p, e], rows_np), device=device)
                    roots_c = torch.as_tensor(find_roots(parents[p, e], cols_np), device=device)
                    keep = (core_t[p, e, rows_s[i]] & core_t[p, e, cols_c[j]]
                            & (roots_r[i] != roots_c[j]))
                    if keep.any():
                        union_roots(parents[p, e], roots_r[i[keep]].cpu().numpy(),
                                    roots_c[j[keep]].cpu().numpy())
    for (p, e), parent in parents.items():
        core_positions = np.flatnonzero(core[p, e])
        if len(core_positions):
            labels[p, e, core_positions] = number_clusters(
                find_roots(parent, core_positions), order[p, core_positions])


def attach_borders(part: Interval, core_t: torch.Tensor, member: torch.Tensor,
                   labels: np.ndarray) -> None:
    """Give each non-core member the lowest-numbered cluster among its core neighbours
    (the cluster scikit-learn's expansion reaches first), in ``labels`` (P, k, n)."""
    covers, k, n = core_t.shape
    device = core_t.device
    border_t = member[:, None, :] & ~core_t                                  # (P, k, n)
    border_any_t = border_t.flatten(0, 1).any(dim=0)
    core_any_t = core_t.flatten(0, 1).any(dim=0)
    labels_t = torch.as_tensor(labels, device=device)
    big = torch.iinfo(torch.int64).max
    best = torch.full((covers, k, n), big, dtype=torch.int64, device=device)
    for b in range(len(part.blocks)):
        rows_b = part.span(b, border_any_t)
        if len(rows_b) == 0:
            continue
        first, last = part.window[b]
        for c in range(first, last):
            cols = part.span(c, core_any_t)
            if len(cols) == 0:
                continue
            for rows_s in rows_b.split(max(1, tiles.SLAB_PAIRS // len(cols))):
                tile_bc = part.distances(rows_s, cols)
                for e in range(k):
                    i, j = part.close_pairs(tile_bc, e)
                    gi, gj = rows_s[i], cols[j]
                    for p in range(covers):
                        keep = border_t[p, e, gi] & core_t[p, e, gj]
                        best[p, e].scatter_reduce_(0, gi[keep], labels_t[p, e, gj[keep]],
                                                   "amin")
    best = best.cpu().numpy()
    joined = best < big
    labels[joined] = best[joined]


def labels_by_recompute(part: Interval, pairs: list[tuple[int, int]],
                        multiplicity: torch.Tensor, order: np.ndarray, min_samples: int,
                        labels: np.ndarray) -> None:
    """DBSCAN labels of every (cover, ε) graph of the interval into ``labels``
    (covers × ε × positions), recomputing the distance tiles in each pass."""
    member = multiplicity > 0
    counts = count_neighbours(part, pairs, multiplicity, min_samples)
    core_t = (counts >= min_samples) & member[:, None, :]                   # (P, k, n)
    join_cores(part, pairs, core_t, order, labels)
    attach_borders(part, core_t, member, labels)
