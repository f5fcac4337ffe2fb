"""The mapper engine: exact DBSCAN of every cover interval, tiled in torch (CPU or CUDA).

Same labels as scikit-learn's ``DBSCAN(eps, min_samples)`` on each interval's points
(border points included), without neighbourhood lists or a distance matrix:

0. *Duplicates* — exact duplicate rows are found once per cloud (hash, then checked) and
   clustered once with their multiplicity as weight; duplicates share their lens, so
   they always fall in the same intervals.
1. *Order* — an interval's distinct points are sorted by their projection on the
   interval's first principal direction. A projection on a unit vector is 1-Lipschitz
   (|⟨x−y, v⟩| ≤ ‖x−y‖), so a tile of rows only meets the contiguous window of columns
   whose projection lies within ε of the rows' range; nothing outside it can be a
   neighbour. (The lens ‖x‖ gives the same bound, but inside one interval it varies by
   less than ε, so the projection is what prunes.)
2. *Core counts* — tiles of squared distances (‖x‖² + ‖y‖² − 2x·y in float32, pairs
   within a rounding band of ε² recomputed exactly in float64) count each row's weighted
   neighbours; column tiles are taken nearest first and a row stops being counted once it
   is known to be core (early exit).
3. *Clusters* — core points are joined by union–find over core×core tiles, diagonal
   first; a tile whose core points already share one component is skipped.
4. *Borders* — each non-core point joins the lowest-numbered cluster among its core
   neighbours, the cluster scikit-learn's expansion reaches first; clusters are numbered
   by their lowest point index, as scikit-learn numbers them.

Memory beyond the input cloud is a few tiles (``tile`` × ``tile`` floats) plus O(n)
index arrays; the same code runs on a GPU when given a CUDA device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components

#: Float32 unit roundoff: the width of the band of distances that are rechecked in float64.
_UNIT_ROUNDOFF = float(np.finfo(np.float32).eps) / 2


@dataclass(frozen=True)
class Duplicates:
    """Distinct rows of a cloud: ``first[k]`` is the first row equal to distinct row k,
    ``inverse[i]`` the distinct row of row i, ``weight[k]`` its multiplicity."""

    first: np.ndarray
    inverse: np.ndarray
    weight: np.ndarray


def find_duplicates(points: np.ndarray, chunk: int = 65536) -> Duplicates:
    """Exact duplicate rows in O(n) extra memory (no sorted copy of the cloud).

    Rows are hashed to float64 by a fixed random projection; rows with equal hashes are
    compared exactly, so equal hashes of different rows never merge them.
    """
    n = len(points)
    direction = np.random.default_rng(0).standard_normal(points.shape[1])
    hashes = np.concatenate([np.asarray(points[s:s + chunk], np.float64) @ direction
                             for s in range(0, n, chunk)]) if n else np.zeros(0)
    order = np.argsort(hashes, kind="stable")  # equal hashes stay in index order
    inverse = np.arange(n)
    same_hash = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    if len(same_hash):
        # Runs of equal hashes: each member maps to the first earlier row equal to it.
        starts = np.flatnonzero(np.diff(np.concatenate([[-2], same_hash])) > 1)
        for start in starts:
            stop = start
            while stop + 1 < len(same_hash) and same_hash[stop + 1] == same_hash[stop] + 1:
                stop += 1
            rows = order[same_hash[start]:same_hash[stop] + 2]
            for k, row in enumerate(rows[1:], 1):
                for earlier in rows[:k]:
                    if inverse[earlier] == earlier and np.array_equal(points[row], points[earlier]):
                        inverse[row] = earlier
                        break
    first = np.flatnonzero(inverse == np.arange(n))
    position = np.empty(n, dtype=np.int64)
    position[first] = np.arange(len(first))
    inverse = position[inverse]
    return Duplicates(first, inverse, np.bincount(inverse, minlength=len(first)))


@dataclass
class EngineStats:
    """What the engine did (for the job log and the benchmark)."""

    pairs_in_windows: int = 0
    pairs_computed: int = 0
    pairs_rechecked: int = 0
    tiles_skipped: int = 0
    intervals_without_edge_list: int = 0


class _Interval:
    """One interval's distinct points in projection order, with tiled distance tests
    for several ε at once (the grid's ε values share every distance tile)."""

    def __init__(self, cloud: torch.Tensor, sqnorm: torch.Tensor, rows: np.ndarray,
                 eps: list[float], tile: int, stats: EngineStats):
        self.cloud, self.tile, self.stats = cloud, tile, stats
        device = cloud.device
        index = torch.as_tensor(rows, device=device)
        projection = self._projection(index).cpu().numpy()
        order = np.argsort(projection, kind="stable")
        self.rows = rows[order]                      # global row of each sorted position
        self.index = index[torch.as_tensor(order, device=device)]
        self.sqnorm = sqnorm[self.index]
        self.projection = projection[order]
        n = len(rows)
        self.blocks = [(s, min(s + tile, n)) for s in range(0, n, tile)]
        # Rounding of the float64 projection is far below this slack.
        slack = max(eps) * (1 + 1e-5) + 1e-6 * float(np.abs(self.projection).max(initial=0.0))
        low = np.array([self.projection[s] for s, _ in self.blocks])
        high = np.array([self.projection[e - 1] for _, e in self.blocks])
        self.window = [(int(np.searchsorted(high, lo - slack, "left")),
                        int(np.searchsorted(low, hi + slack, "right")))
                       for lo, hi in zip(low, high, strict=True)]
        self.eps2 = [e * e for e in eps]
        # Rounding bound of ‖y‖² − 2x·y against ‖x‖² + ‖y‖² (|2x·y| ≤ ‖x‖² + ‖y‖²):
        # pairs this close to ε² are decided again in float64.
        self.tolerance = 2 * (cloud.shape[1] + 8) * _UNIT_ROUNDOFF

    def _projection(self, index: torch.Tensor) -> torch.Tensor:
        """Projection on the first principal direction (power iteration in float64, over
        chunks of rows so that no float64 copy of the interval is made)."""
        chunks = [index[s:s + self.tile] for s in range(0, len(index), self.tile)]
        mean = sum(self.cloud[c].double().sum(dim=0) for c in chunks) / len(index)
        generator = torch.Generator().manual_seed(0)
        v = torch.randn(self.cloud.shape[1], generator=generator, dtype=torch.float64)
        v = v.to(self.cloud.device)
        for _ in range(4):
            # One chunk in float64 at a time (a generator, not a list).
            v = sum(x.T @ (x @ v) for x in (self.cloud[c].double() - mean for c in chunks))
            v = v / v.norm().clamp_min(1e-300)
        return torch.cat([self.cloud[c].double() @ v for c in chunks])

    def tile_pairs(self) -> list[tuple[int, int]]:
        """Block pairs (b, c ≥ b) whose projections are within ε, diagonal first."""
        pairs = [(b, c) for b in range(len(self.blocks)) for c in range(b, self.window[b][1])]
        return sorted(pairs, key=lambda bc: (bc[1] - bc[0], bc))

    def distances(self, rows: torch.Tensor, cols: torch.Tensor) -> _Tile:
        """The tile's ‖y‖² − 2x·y (float32; ‖x‖² goes into each row's threshold)."""
        a, b = self.cloud[self.index[rows]], self.cloud[self.index[cols]]
        na, nb = self.sqnorm[rows], self.sqnorm[cols]
        partial = torch.addmm(nb[None, :], a, b.T, alpha=-2)
        self.stats.pairs_computed += partial.numel()
        return _Tile(a, b, na, partial, self.tolerance * float(na.max() + nb.max()))

    def close(self, tile: _Tile, e: int) -> torch.Tensor:
        """Boolean mask of the tile's pairs within the e-th ε (d ≤ ε, ties decided in
        float64 from the coordinates)."""
        threshold = self.eps2[e] - tile.na
        close = tile.partial <= (threshold - tile.band)[:, None]
        unsure = tile.partial <= (threshold + tile.band)[:, None]
        unsure ^= close
        if unsure.any():
            i, j = unsure.nonzero(as_tuple=True)
            exact = (tile.a[i].double() - tile.b[j].double()).pow(2).sum(dim=1)
            close[i, j] = exact <= self.eps2[e]
            self.stats.pairs_rechecked += len(i)
        return close

    def close_pairs(self, tile: _Tile, e: int, upper: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(row, column) tile indices of the pairs within the e-th ε, listed from one
        comparison: pairs inside the rounding band are then decided in float64.
        ``upper`` keeps only column > row (a diagonal tile, each pair once)."""
        threshold = self.eps2[e] - tile.na
        candidate = tile.partial <= (threshold + tile.band)[:, None]
        if upper:
            candidate.triu_(diagonal=1)
        i, j = candidate.nonzero(as_tuple=True)
        unsure = tile.partial[i, j] > (threshold - tile.band)[i]
        if unsure.any():
            ui, uj = i[unsure], j[unsure]
            exact = (tile.a[ui].double() - tile.b[uj].double()).pow(2).sum(dim=1)
            keep = ~unsure
            keep[unsure] = exact <= self.eps2[e]
            self.stats.pairs_rechecked += len(ui)
            i, j = i[keep], j[keep]
        return i, j


@dataclass
class _Tile:
    a: torch.Tensor
    b: torch.Tensor
    na: torch.Tensor
    partial: torch.Tensor
    band: float


def _find(parent: np.ndarray, items: np.ndarray) -> np.ndarray:
    roots = parent[items]
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            return roots
        roots = up


def _union(parent: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> None:
    """Merge the components of root pairs (ra[k], rb[k]); roots become component minima.

    Linear in the interval's size and the number of pairs (no sorting)."""
    n = len(parent)
    graph = sparse.coo_matrix((np.ones(len(ra), np.int8), (ra, rb)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    lowest = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(lowest, component, np.arange(n))
    is_root = parent == np.arange(n)
    parent[is_root] = lowest[component[is_root]]


def _edge_lists(part: _Interval, pairs, span, k: int, budget: int):
    """Every close pair (i < j) of the interval per ε as position tensors, or None once
    they would exceed ``budget`` bytes (16 per pair)."""
    found = [([], []) for _ in range(k)]
    size, done = 0, 0
    total = sum(len(span(b)) * len(span(c)) for b, c in pairs)
    for b, c in pairs:
        rows_b, cols_c = span(b), span(c)
        tile_bc = part.distances(rows_b, cols_c)
        done += len(rows_b) * len(cols_c)
        for e in range(k):
            # A diagonal tile lists each pair once and no point with itself.
            i, j = part.close_pairs(tile_bc, e, upper=b == c)
            size += 16 * len(i)
            # Give up as soon as the list, at the density seen so far, would not fit:
            # the diagonal tiles come first and are the densest.
            if size > budget or size * (total / done) > 2 * budget:
                return None
            found[e][0].append(rows_b[i])
            found[e][1].append(cols_c[j])
    return [(torch.cat(a), torch.cat(b_)) for a, b_ in found]


def _labels_from_edges(part: _Interval, edges, core_t: torch.Tensor, member: torch.Tensor,
                       labels: np.ndarray, where: np.ndarray, n: int) -> np.ndarray:
    """DBSCAN labels of every graph from the interval's edge lists (see interval_labels)."""
    covers, k = core_t.shape[:2]
    core = core_t.cpu().numpy()
    border_t = member[:, None, :] & ~core_t
    big = torch.iinfo(torch.int64).max
    for e, (gi, gj) in enumerate(edges):
        for p in range(covers):
            core_positions = np.flatnonzero(core[p, e])
            if len(core_positions) == 0:
                continue
            core_i, core_j = core_t[p, e, gi], core_t[p, e, gj]
            both = core_i & core_j
            a, b = gi[both].cpu().numpy(), gj[both].cpu().numpy()
            graph = sparse.csr_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
            _, component = connected_components(graph, directed=True, connection="weak")
            # Number the clusters by their lowest original row, as scikit-learn does.
            roots, local = np.unique(component[core_positions], return_inverse=True)
            lowest = np.full(len(roots), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(lowest, local, part.rows[core_positions])
            rank = np.empty(len(roots), dtype=np.int64)
            rank[np.argsort(lowest, kind="stable")] = np.arange(len(roots))
            labels[p, e, core_positions] = rank[local]
            # Borders: the lowest-numbered cluster among their core neighbours.
            label_t = torch.as_tensor(labels[p, e], device=gi.device)
            best = torch.full((n,), big, dtype=torch.int64, device=gi.device)
            for border, other, is_core in ((gi, gj, core_j), (gj, gi, core_i)):
                hit = border_t[p, e, border] & is_core
                best.scatter_reduce_(0, border[hit], label_t[other[hit]], "amin")
            best = best.cpu().numpy()
            joined = best < big
            labels[p, e, joined] = best[joined]
    out = np.empty_like(labels)
    out[:, :, where] = labels
    return out


def interval_labels(cloud: torch.Tensor, sqnorm: torch.Tensor, rows: np.ndarray,
                    weight: np.ndarray, membership: np.ndarray, eps: list[float],
                    min_samples: int, tile: int = 2048,
                    stats: EngineStats | None = None,
                    cache_bytes: int = 256 << 20) -> np.ndarray:
    """DBSCAN labels of one interval for every (cover, ε) of a grid, from shared tiles.

    Parameters
    ----------
    cloud
        ``(N, D)`` float32 tensor on the engine's device.
    sqnorm
        Its squared row norms (float32, same device).
    rows
        Ascending rows of the distinct points in the union of the interval over the
        grid's covers.
    weight
        Multiplicity of each of those rows.
    membership
        bool ``(P, len(rows))``: which rows the interval holds in each of P covers.
    eps, min_samples
        DBSCAN's parameters (d ≤ ε; a core point has ≥ min_samples points within ε,
        itself and its duplicates included), one labelling per ε.
    tile
        Rows (and columns) of one distance tile.
    stats
        Counters to add to.
    cache_bytes
        Largest size of the interval's edge lists (8 bytes per close pair and ε) kept
        from the counting pass for the later passes; denser intervals recompute
        distances in each pass instead.

    Returns
    -------
    numpy.ndarray
        int64 ``(P, len(eps), len(rows))``: labels numbered as scikit-learn numbers
        them on the interval's points of that cover; −1 for noise and non-members.
    """
    eps = [float(e) for e in eps]
    n, covers, k = len(rows), len(membership), len(eps)
    graphs = [(p, e) for p in range(covers) for e in range(k)]
    stats = stats if stats is not None else EngineStats()
    labels = np.full((covers, k, n), -1, dtype=np.int64)
    if n == 0:
        return labels
    device = cloud.device
    part = _Interval(cloud, sqnorm, rows, eps, tile, stats)
    where = np.searchsorted(rows, part.rows)
    member = torch.as_tensor(membership[:, where], device=device)             # (P, n)
    w = torch.as_tensor(weight[where], device=device, dtype=torch.float32)
    member_w = (member.float() * w).T.contiguous()                            # (n, P)
    pairs = part.tile_pairs()
    for b, c in pairs:
        stats.pairs_in_windows += ((part.blocks[b][1] - part.blocks[b][0])
                                   * (part.blocks[c][1] - part.blocks[c][0]) * (2 - (b == c)))

    def span(block, mask=None):
        start, stop = part.blocks[block]
        if mask is None:
            return torch.arange(start, stop, device=device)
        return torch.nonzero(mask[start:stop]).flatten() + start

    # 1. Weighted neighbour counts within each cover's interval, for each ε. A tile pair
    #    is computed once for both blocks, only for rows that are still below
    #    min_samples in some graph they belong to (the others are known core).
    counts = torch.zeros(covers, k, n, device=device, dtype=torch.float32)

    def is_open():
        below = (counts < min_samples) & member[:, None, :]
        return below.flatten(0, 1).any(dim=0)

    def add(e, target, close, source):
        # counts[p, e, target] += Σ_source close · w · [source in cover p]
        counts[:, e, target] += (close @ member_w[source]).T

    # First try: whole tiles, keeping every tile's close pairs as an edge list while it
    # fits in ``cache_bytes``; the later passes then work on the edges alone (linear in
    # their number). A dense interval whose edges do not fit falls back to the passes
    # below, which recompute distances tile by tile instead.
    edges = _edge_lists(part, pairs, span, k, cache_bytes)
    stats.intervals_without_edge_list += edges is None
    if edges is not None:
        for e, (gi, gj) in enumerate(edges):
            counts[:, e, :] += member_w.T  # each point counts itself (and its duplicates)
            counts[:, e, :].index_add_(1, gi, member_w[gj].T)
            counts[:, e, :].index_add_(1, gj, member_w[gi].T)
        core_t = (counts >= min_samples) & member[:, None, :]
        return _labels_from_edges(part, edges, core_t, member, labels, where, n)
    for b, c in pairs:
        open_mask = is_open()
        open_b = span(b, open_mask)
        if b == c:
            if len(open_b):
                tile_bb = part.distances(open_b, span(b))
                for e_index in range(k):
                    add(e_index, open_b, part.close(tile_bb, e_index).float(), span(b))
            continue
        open_c = span(c, open_mask)
        if len(open_b) == 0 and len(open_c) == 0:
            stats.tiles_skipped += 1
            continue
        cols = span(c)
        if len(open_b):  # open rows of b against all of c: counts of both sides
            strip = part.distances(open_b, cols)
            for e_index in range(k):
                close = part.close(strip, e_index).float()
                add(e_index, open_b, close, cols)
                add(e_index, cols, close.T, open_b)
        closed_b = span(b, ~open_mask)
        if len(open_c) and len(closed_b):  # the rest of b against the open rows of c
            strip = part.distances(closed_b, open_c)
            for e_index in range(k):
                add(e_index, open_c, part.close(strip, e_index).float().T, closed_b)
    core_t = (counts >= min_samples) & member[:, None, :]                   # (P, k, n)
    core = core_t.cpu().numpy()
    core_any_t = core_t.flatten(0, 1).any(dim=0)

    # 2. Core components per graph: union–find over core×core tiles, diagonal first; a
    #    tile whose core points already share one component (in every graph) is skipped.
    #    A tile's close pairs are listed once per ε; each graph filters that list.
    parents = {g: np.arange(n) for g in graphs}
    core_by_eps = core_t.any(dim=0)                                         # (k, n)
    for b, c in pairs:
        rows_b, cols_c = span(b, core_any_t), span(c, core_any_t)
        if len(rows_b) == 0 or len(cols_c) == 0:
            continue
        rows_np, cols_np = rows_b.cpu().numpy(), cols_c.cpu().numpy()
        needed = []
        for p, e in graphs:
            rb = _find(parents[p, e], rows_np[core[p, e, rows_np]])
            rc = _find(parents[p, e], cols_np[core[p, e, cols_np]])
            if len(rb) and len(rc) and not (rb.min() == rb.max() == rc.min() == rc.max()):
                needed.append((p, e))
        if not needed:
            stats.tiles_skipped += 1
            continue
        tile_bc = part.distances(rows_b, cols_c)
        for e in sorted({e for _, e in needed}):
            close = part.close(tile_bc, e)
            close &= core_by_eps[e, rows_b][:, None] & core_by_eps[e, cols_c][None, :]
            i, j = close.nonzero(as_tuple=True)
            for p in (p for p, e2 in needed if e2 == e):
                # Only pairs of core points whose components differ go to the union–find
                # (in a tile already joined that is few of its pairs).
                roots_r = torch.as_tensor(_find(parents[p, e], rows_np), device=device)
                roots_c = torch.as_tensor(_find(parents[p, e], cols_np), device=device)
                keep = (core_t[p, e, rows_b[i]] & core_t[p, e, cols_c[j]]
                        & (roots_r[i] != roots_c[j]))
                if keep.any():
                    _union(parents[p, e], roots_r[i[keep]].cpu().numpy(),
                           roots_c[j[keep]].cpu().numpy())

    for p, e in graphs:
        core_positions = np.flatnonzero(core[p, e])
        if len(core_positions):
            # Number the clusters by their lowest original row, as scikit-learn does.
            component = _find(parents[p, e], core_positions)
            roots, local = np.unique(component, return_inverse=True)
            lowest = np.full(len(roots), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(lowest, local, part.rows[core_positions])
            rank = np.empty(len(roots), dtype=np.int64)
            rank[np.argsort(lowest, kind="stable")] = np.arange(len(roots))
            labels[p, e, core_positions] = rank[local]

    # 3. Borders: the lowest-numbered cluster among each non-core member's core neighbours.
    border_t = member[:, None, :] & ~core_t                                  # (P, k, n)
    border_any_t = border_t.flatten(0, 1).any(dim=0)
    labels_t = torch.as_tensor(labels, device=device)
    big = torch.iinfo(torch.int64).max
    best = torch.full((covers, k, n), big, dtype=torch.int64, device=device)
    for b in range(len(part.blocks)):
        rows_b = span(b, border_any_t)
        if len(rows_b) == 0:
            continue
        first, last = part.window[b]
        for c in range(first, last):
            cols = span(c, core_any_t)
            if len(cols) == 0:
                continue
            tile_bc = part.distances(rows_b, cols)
            for e in range(k):
                i, j = part.close_pairs(tile_bc, e)
                gi, gj = rows_b[i], cols[j]
                for p in range(covers):
                    keep = border_t[p, e, gi] & core_t[p, e, gj]
                    best[p, e].scatter_reduce_(0, gi[keep], labels_t[p, e, gj[keep]], "amin")
    best = best.cpu().numpy()
    joined = best < big
    labels[joined] = best[joined]

    out = np.empty_like(labels)
    out[:, :, where] = labels
    return out


def resolve_tile(dimensions: int, device: torch.device, memory_mb: float = 1024) -> int:
    """Largest power-of-two tile whose working set stays well inside ``memory_mb``.

    A tile holds a float32 distance block, masks, at worst all its pairs as union–find
    edges, and two gathered ``tile × D`` blocks; a quarter of the budget is allowed.
    """
    tile = 256
    while tile < 8192:
        bigger = tile * 2
        # float32 distances, masks, and at worst every pair of a tile as an int64 edge
        working = bigger * bigger * 24 + 2 * bigger * dimensions * 4
        if working > memory_mb * 2**20 / 4:
            break
        tile = bigger
    return tile


def cluster_grid(points: np.ndarray, covers: list[list[np.ndarray]], eps: list[float],
                 min_samples: int, device: str | torch.device = "cpu",
                 tile: int | None = None, progress: bool = False,
                 stats: EngineStats | None = None, cache_bytes: int = 256 << 20
                 ) -> Iterator[tuple[int, list[list[np.ndarray | None]]]]:
    """DBSCAN labels of every interval of several covers, for several ε, in one pass.

    Interval i of every cover is clustered together: the distance tiles of the union of
    those intervals are computed once and serve every (cover, ε) of the grid.

    Parameters
    ----------
    points
        ``(N, D)`` cloud (float32 is used as is; other dtypes are converted).
    covers
        For each cover, each interval's member rows, ascending; all covers have the
        same number of intervals.
    eps, min_samples
        DBSCAN's parameters.
    device
        ``cpu`` or ``cuda``: where the tiles are computed.
    tile
        Rows of one distance tile (default: from :func:`resolve_tile`).
    progress
        tqdm bar over intervals.
    stats
        Counters of the work done (added to).
    cache_bytes
        See :func:`interval_labels` (0 recomputes distances in every pass).

    Yields
    ------
    interval, labels
        ``labels[p][e]``: the labels of cover p's interval members for ε number e, in
        member order, or None where the interval has fewer than min_samples points.
    """
    from tqdm.auto import tqdm

    if len({len(cover) for cover in covers}) != 1:
        raise ValueError("the covers of one grid must have the same number of intervals")
    device = torch.device(device)
    x = np.ascontiguousarray(points, dtype=np.float32)
    duplicates = find_duplicates(x)
    cloud = torch.from_numpy(x).to(device)
    sqnorm = cloud.pow(2).sum(dim=1)
    tile = tile or resolve_tile(x.shape[1], device)
    for i in tqdm(range(len(covers[0])), desc="mapper intervals", unit="interval",
                  disable=not progress):
        members = [cover[i] for cover in covers]
        used = [len(m) >= min_samples for m in members]
        if not any(used):
            continue
        union = np.unique(np.concatenate([m for m, u in zip(members, used, strict=True) if u]))
        distinct = np.unique(duplicates.inverse[union])
        rows = duplicates.first[distinct]  # ascending: first occurrences keep index order
        membership = np.zeros((len(covers), len(rows)), dtype=bool)
        local = []
        for p, m in enumerate(members):
            position = np.searchsorted(distinct, duplicates.inverse[m])
            membership[p, position] = used[p]
            local.append(position)
        labels = interval_labels(cloud, sqnorm, rows, duplicates.weight[distinct], membership,
                                 eps, min_samples, tile, stats, cache_bytes)
        yield i, [[labels[p, e, local[p]] if used[p] else None for e in range(len(eps))]
                  for p in range(len(covers))]
