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
2. *Close pairs* — tiles of squared distances (‖x‖² + ‖y‖² − 2x·y in float32, pairs
   within a rounding band of an ε² recomputed exactly in float64) are computed once for
   every (cover, ε) of a grid. Where an interval's close pairs fit in ``cache_bytes``
   (estimated first from a sample of pairs), they are listed once, at about 2 bytes per
   pair for all ε together (per pair, its column in the slab and the number of ε it is
   farther than packed in an int16; per slab row, its number of pairs), a slab of rows
   at a time against only the columns it can reach (from its own first row in a
   diagonal tile, up to ε past its last row's projection); the passes below then read
   that list in chunks, each chunk serving every (cover, ε) graph at once. Otherwise
   each pass recomputes its tiles.
3. *Core counts* — each point's weighted neighbours within its cover's interval: from
   an edge list, one ``bincount`` histogram of (point, level, the neighbour's cover
   pattern); when recomputing, column tiles are taken nearest first and a row stops
   being counted once it is known to be core (early exit).
4. *Clusters* — core points are joined by union–find, every graph's components in one
   call per chunk (diagonal tiles first; a chunk or tile only passes on the pairs of
   components not joined yet).
5. *Borders* — each non-core point joins the lowest-numbered cluster among its core
   neighbours, the cluster scikit-learn's expansion reaches first; clusters are numbered
   by their lowest point index, as scikit-learn numbers them.

Intervals are clustered in parallel threads on a CPU (the steps after the distance
products are mostly single-threaded kernels). Memory beyond the input cloud is a few
tiles, the edge lists (≤ ``cache_bytes`` in all) and O(n) index arrays; under glibc the
engine makes large blocks go back to the system when freed and trims the heaps between
stages (see :func:`bound_heap_growth` and :func:`release_free_heap`), without which the
worker threads' heaps keep the high-water mark of every tile. The same code runs on a
GPU when given a CUDA device.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

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


def find_duplicates(points: np.ndarray, chunk_bytes: int = 8 << 20) -> Duplicates:
    """Exact duplicate rows in O(n) extra memory (no sorted copy of the cloud).

    Rows are hashed to float64 by a fixed random projection (a float64 chunk of
    ``chunk_bytes`` at a time); rows with equal hashes are compared exactly, so equal
    hashes of different rows never merge them.
    """
    n = len(points)
    chunk = max(1, chunk_bytes // (8 * max(points.shape[1], 1)))
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

    def merge(self, other: EngineStats) -> None:
        """Add another run's counters (each worker thread counts on its own)."""
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


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
        self.slack = slack = (max(eps) * (1 + 1e-5)
                              + 1e-6 * float(np.abs(self.projection).max(initial=0.0)))
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

    def points(self, positions: torch.Tensor) -> torch.Tensor:
        """The coordinates of interval positions (a gathered copy)."""
        return self.cloud[self.index[positions]]

    def distances(self, rows: torch.Tensor, cols: torch.Tensor,
                  a: torch.Tensor | None = None, b: torch.Tensor | None = None) -> _Tile:
        """The tile's ‖y‖² − 2x·y (float32; ‖x‖² goes into each row's threshold).
        ``a`` and ``b``: the rows' and columns' coordinates where already gathered."""
        a = self.points(rows) if a is None else a
        b = self.points(cols) if b is None else b
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
            exact = tile.exact_sqdist(i, j)
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
            exact = tile.exact_sqdist(ui, uj)
            keep = ~unsure
            keep[unsure] = exact <= self.eps2[e]
            self.stats.pairs_rechecked += len(ui)
            i, j = i[keep], j[keep]
        return i, j

    def close_levels(self, tile: _Tile, diagonal: int | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The tile's pairs within the widest ε, from one comparison, each with its
        *level*: the number of the ε it is farther than (so it belongs to the graph of
        ε_e exactly when its level ≤ the number of ε smaller than ε_e). Pairs inside
        the rounding band of some ε are decided in float64. ``diagonal`` keeps only the
        pairs with column − row ≥ ``diagonal`` (a slab of a diagonal tile: each pair
        once). Tile positions come back as int16 where they fit (a quarter of int64)."""
        widest = max(self.eps2)
        candidate = tile.partial <= (widest - tile.na + tile.band)[:, None]
        if diagonal is not None:
            candidate.triu_(diagonal=diagonal)
        i, j = candidate.nonzero(as_tuple=True)
        del candidate
        value, na = tile.partial[i, j], tile.na[i]
        level = torch.zeros(len(i), dtype=torch.uint8, device=i.device)
        unsure = torch.zeros(len(i), dtype=torch.bool, device=i.device)
        for eps2 in self.eps2:
            threshold = eps2 - na
            level += value > threshold + tile.band
            unsure |= (value > threshold - tile.band) & (value <= threshold + tile.band)
        if unsure.any():
            ui, uj = i[unsure], j[unsure]
            exact = tile.exact_sqdist(ui, uj)
            level[unsure] = sum((exact > eps2).to(torch.uint8) for eps2 in self.eps2)
            self.stats.pairs_rechecked += len(ui)
        keep = (level < len(self.eps2)).nonzero().squeeze(1)
        small = torch.int16 if max(tile.partial.shape) <= 1 << 15 else torch.int32
        return i[keep].to(small), j[keep].to(small), level[keep]

    def sampled_density(self, pairs: list[tuple[int, int]], samples: int = 4096) -> float:
        """Expected number of pairs within the widest ε among the tile pairs, from the
        exact distances of uniformly drawn pairs (seeded)."""
        sizes = np.array([(self.blocks[b][1] - self.blocks[b][0])
                          * (self.blocks[c][1] - self.blocks[c][0]) / (1 + (b == c))
                          for b, c in pairs])
        if sizes.sum() <= samples:  # a small interval: every pair is a bound cheaper than
            return float(sizes.sum())  # a sample (a bootstrap rebuilds many of them)
        rng = np.random.default_rng(0)
        chosen = rng.choice(len(pairs), samples, p=sizes / sizes.sum())
        block_pairs = np.array(pairs)[chosen]
        starts = np.array([s for s, _ in self.blocks])
        stops = np.array([e for _, e in self.blocks])
        i = rng.integers(starts[block_pairs[:, 0]], stops[block_pairs[:, 0]])
        j = rng.integers(starts[block_pairs[:, 1]], stops[block_pairs[:, 1]])
        i = self.index[torch.as_tensor(i, device=self.index.device)]
        j = self.index[torch.as_tensor(j, device=self.index.device)]
        close = (_pair_sqdist(self.cloud, i, self.cloud, j) <= max(self.eps2)) & (i != j)
        return int(close.sum()) / samples * float(sizes.sum())


@dataclass
class _Tile:
    a: torch.Tensor
    b: torch.Tensor
    na: torch.Tensor
    partial: torch.Tensor
    band: float

    def exact_sqdist(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Float64 squared distances of the pairs (a[i], b[j])."""
        return _pair_sqdist(self.a, i, self.b, j)


def _pair_sqdist(a: torch.Tensor, i: torch.Tensor, b: torch.Tensor, j: torch.Tensor
                 ) -> torch.Tensor:
    """Float64 squared distances of the pairs (a[i[k]], b[j[k]]), a batch at a time so
    that the float64 copies stay small (in high dimensions the rounding band holds many
    pairs, and 4,096 sampled pairs of 1,024-dimensional rows would be 64 MB at once)."""
    batch = _float64_batch(a.shape[1])
    if len(i) == 0:
        return torch.zeros(0, dtype=torch.float64, device=i.device)
    return torch.cat([(a[i[s:s + batch]].double() - b[j[s:s + batch]].double())
                      .pow(2).sum(dim=1) for s in range(0, len(i), batch)])


def _float64_batch(dimensions: int, budget: int = 4 << 20) -> int:
    """Rows per batch of float64 pair differences: two gathered rows and their
    difference within about ``budget`` bytes."""
    return max(1, budget // (24 * max(dimensions, 1)))


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


@dataclass
class _EdgeList:
    """An interval's close pairs (positions i < j) within the widest ε, each with its
    level (see :meth:`_Interval.close_levels`), for every ε at about 2 bytes per pair:
    per pair, its column within its slab and its level packed in one int16 (int32 where
    they need more than 15 bits); per slab row, its number of pairs (pairs come row by
    row). Both live in buffers allocated once at the list's largest size, of which only
    the pages written become resident: kept as thousands of small tensors, the pieces
    interleaved with the listing's temporaries in the heap and grew it to ~6× the list
    (a 1M-point cloud)."""

    smaller: list[int]         # smaller[e]: how many ε are smaller than ε_e
    column_bits: int           # code = level << column_bits | column
    codes: torch.Tensor        # capacity; the first used_codes are listed
    row_counts: torch.Tensor   # capacity; the first used_rows are listed
    #: (first row count, last + 1, first code, last + 1, first row, first column)
    pieces: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    used_codes: int = 0
    used_rows: int = 0

    @staticmethod
    def code_dtype(levels: int, columns: int) -> torch.dtype:
        """The code's dtype for ``levels`` ε and slabs of at most ``columns`` columns."""
        bits = max(1, (columns - 1).bit_length()) + (levels - 1).bit_length()
        return torch.int16 if bits <= 15 else torch.int32

    @classmethod
    def empty(cls, eps2: list[float], columns: int, capacity: int, rows: int,
              device: torch.device | str = "cpu") -> _EdgeList:
        """An empty list for these ε², slabs of at most ``columns`` columns and
        ``rows`` slab rows in all, whose codes may take ``capacity`` bytes."""
        smaller = [sum(other < e for other in eps2) for e in eps2]
        dtype = cls.code_dtype(len(eps2), columns)
        return cls(smaller, max(1, (columns - 1).bit_length()),
                   torch.empty(max(0, capacity) // dtype.itemsize, dtype=dtype, device=device),
                   torch.empty(rows, dtype=torch.int32, device=device))

    def add(self, i: torch.Tensor, j: torch.Tensor, level: torch.Tensor, rows: int,
            row: int, column: int) -> bool:
        """A slab's pairs: rows ``i`` (ascending) and columns ``j`` within the slab of
        ``rows`` rows whose first position is (``row``, ``column``). False, and nothing
        added, where the codes would pass the capacity."""
        if len(i) == 0:
            return True
        if self.used_codes + len(i) > len(self.codes):
            return False
        counts = self.row_counts[self.used_rows:self.used_rows + rows]
        counts.copy_(torch.bincount(i.long(), minlength=rows))
        codes = self.codes[self.used_codes:self.used_codes + len(i)]
        torch.bitwise_or(level.to(codes.dtype) << self.column_bits, j.to(codes.dtype),
                         out=codes)
        self.pieces.append((self.used_rows, self.used_rows + rows, self.used_codes,
                            self.used_codes + len(i), row, column))
        self.used_rows += rows
        self.used_codes += len(i)
        return True

    def chunks(self, size: int | None = None
               ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The close pairs, ``size`` at a time (the last chunk fewer), as int64 interval
        positions (torch's indexing kernels are slower with int32) and their levels.
        Pieces are cut and joined to that size before widening to int64, so that the
        passes' temporaries stay a chunk's (a dense slab's piece holds up to
        ``_SLAB_PAIRS`` pairs)."""
        size = size or _CHUNK_PAIRS
        mask = (1 << self.column_bits) - 1
        held, count = [], 0
        for first_count, stop_count, first_code, stop_code, row, column in self.pieces:
            counts = self.row_counts[first_count:stop_count]
            code = self.codes[first_code:stop_code]
            small = torch.int16 if len(counts) <= 1 << 15 else torch.int32
            piece_i = torch.arange(len(counts), dtype=small,
                                   device=code.device).repeat_interleave(counts)
            start = 0
            while start < len(code):
                stop = min(len(code), start + size - count)
                part = code[start:stop]
                held.append((piece_i[start:stop].long() + row, (part & mask).long() + column,
                             (part >> self.column_bits).to(torch.uint8)))
                count += stop - start
                start = stop
                if count == size:
                    yield tuple(torch.cat(parts) for parts in zip(*held, strict=True))
                    held, count = [], 0
        if count:
            yield tuple(torch.cat(parts) for parts in zip(*held, strict=True))


#: Pairs per distance slab while listing edges (bounds the listing's working memory).
_SLAB_PAIRS = 1 << 19

#: Close pairs per chunk of the passes over an edge list (bounds their working memory).
_CHUNK_PAIRS = 1 << 17

#: Bins of the neighbour-count histogram (8 bytes each): more levels are read in turn.
_HISTOGRAM_BINS = 1 << 22


def _edge_lists(part: _Interval, pairs, span, budget: int) -> _EdgeList | None:
    """Every close pair of the interval for every ε, or None when the list would not fit
    in ``budget`` bytes: decided first from a sample of pairs, so that a dense interval
    does not compute half a list to drop it, and enforced while listing. Each tile is
    listed in slabs of rows (at most ``_SLAB_PAIRS`` pairs each)."""
    # A pair's code (the slabs' row counts add a little).
    code_bytes = _EdgeList.code_dtype(len(part.eps2), part.tile).itemsize
    if code_bytes * part.sampled_density(pairs) > 0.8 * budget:
        return None
    slab_rows = sum(part.blocks[b][1] - part.blocks[b][0] for b, _ in pairs)
    edges = _EdgeList.empty(part.eps2, part.tile, budget - 4 * slab_rows, slab_rows,
                            part.cloud.device)
    # Row blocks in order, so that a block's coordinates are gathered once for all its
    # tiles, and a column block's once per tile (not once per slab).
    row_block, row_points = None, None
    for b, c in sorted(pairs):
        if b != row_block:
            row_block, row_points = b, part.points(span(b))
        col_points = row_points if c == b else part.points(span(c))
        (first, stop), (col_first, col_stop) = part.blocks[b], part.blocks[c]
        slab = max(1, _SLAB_PAIRS // (col_stop - col_first))
        for row in range(first, stop, slab):
            row_stop = min(row + slab, stop)
            # Each slab meets only the columns it can reach: from its own first row in a
            # diagonal tile (each pair once, no point with itself), and up to the last
            # column within ε of its last row's projection.
            start = row if b == c else col_first
            end = min(col_stop, int(np.searchsorted(
                part.projection, part.projection[row_stop - 1] + part.slack, "right")))
            if end <= start:
                continue
            rows = torch.arange(row, row_stop, device=row_points.device)
            cols = torch.arange(start, end, device=row_points.device)
            tile = part.distances(rows, cols, row_points[row - first:row_stop - first],
                                  col_points[start - col_first:end - col_first])
            if not edges.add(*part.close_levels(tile, 1 if b == c else None),
                             row_stop - row, row, start):
                return None
    return edges


def _number_clusters(component: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cluster numbers of core points from any component ids, numbered by their lowest
    original row (``rows``), as scikit-learn numbers them."""
    roots, local = np.unique(component, return_inverse=True)
    lowest = np.full(len(roots), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(lowest, local, rows)
    rank = np.empty(len(roots), dtype=np.int64)
    rank[np.argsort(lowest, kind="stable")] = np.arange(len(roots))
    return rank[local]


def _join_roots(root: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Component roots after joining the components of roots a[k] and b[k]: each core
    point's root becomes the lowest position of its merged component (−1 stays)."""
    n = len(root)
    a, b = a.cpu().numpy(), b.cpu().numpy()
    if 2 * len(a) < n:  # few pairs (the usual case once the first chunks are joined)
        nodes, pair = np.unique(np.concatenate([a, b]), return_inverse=True)
        a, b = pair[:len(a)], pair[len(a):]
    else:
        nodes = np.arange(n)
    graph = sparse.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(len(nodes),) * 2)
    _, component = connected_components(graph, directed=False)
    lowest = np.full(component.max() + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(lowest, component, nodes)
    new_root = torch.arange(n, device=root.device, dtype=root.dtype)
    new_root[torch.as_tensor(nodes, device=root.device)] = torch.as_tensor(
        lowest[component], device=root.device, dtype=root.dtype)
    return torch.where(root >= 0, new_root[root.clamp_min(0)], root)


def _neighbour_counts(edges: _EdgeList, multiplicity: torch.Tensor) -> torch.Tensor:
    """Weighted neighbour counts of every (cover, ε) graph, ``(P, k, n)``, each point
    counting itself, from one read of the edge list per group of levels.

    A point's multiplicities in the P covers form a *pattern* (at most 2P + 1 of them
    when the covers' intervals are ranges of one lens), so the counts are one histogram
    of (point, level, the neighbour's pattern), filled by ``bincount`` over both ends of
    each pair, summed over levels ≤ each ε's and weighted by the patterns. Where the
    patterns are too many for the histogram (the resampled covers of a bootstrap), the
    neighbours' multiplicities are added pair by pair instead."""
    n = multiplicity.shape[1]
    k = len(edges.smaller)
    # (m, P) distinct patterns and each point's pattern number.
    pattern, code = torch.unique(multiplicity.T, dim=0, return_inverse=True)
    m = len(pattern)
    counts = multiplicity.double()[:, None, :].repeat(1, k, 1)                  # (P, k, n)
    if n * m > _HISTOGRAM_BINS:
        return _added_neighbour_counts(edges, multiplicity.double(), counts)
    below = torch.zeros(n, m, dtype=torch.float64, device=multiplicity.device)  # levels < l
    group = max(1, _HISTOGRAM_BINS // (n * m))  # levels counted per read of the list
    for first in range(0, k, group):
        last = min(k, first + group)
        bins = n * (last - first) * m
        histogram = torch.zeros(bins, dtype=torch.int64, device=multiplicity.device)
        for gi, gj, level in edges.chunks():
            if first > 0 or last < k:
                keep = ((level >= first) & (level < last)).nonzero().squeeze(1)
                gi, gj, level = gi[keep], gj[keep], level[keep]
            for point, neighbour in ((gi, gj), (gj, gi)):
                key = (point * (last - first) + (level - first)) * m + code[neighbour]
                histogram += torch.bincount(key, minlength=bins)
        histogram = histogram.view(n, last - first, m)
        for level in range(first, last):
            below += histogram[:, level - first]
            for e in (e for e, smaller in enumerate(edges.smaller) if smaller == level):
                counts[:, e] += (below @ pattern.double()).T
    return counts


def _added_neighbour_counts(edges: _EdgeList, multiplicity: torch.Tensor,
                            counts: torch.Tensor) -> torch.Tensor:
    """:func:`_neighbour_counts` pair by pair: each end of a pair adds the other's
    multiplicity in every cover (float64, exact for counts), once per ε it is within."""
    for gi, gj, level in edges.chunks():
        for e, smaller in enumerate(edges.smaller):
            keep = (level <= smaller).nonzero().squeeze(1)
            a, b = gi[keep], gj[keep]
            counts[:, e].index_add_(1, a, multiplicity[:, b])
            counts[:, e].index_add_(1, b, multiplicity[:, a])
    return counts


def _labels_from_edges(part: _Interval, edges: _EdgeList, multiplicity: torch.Tensor,
                       order: np.ndarray, min_samples: int, labels: np.ndarray) -> None:
    """DBSCAN labels of every (cover, ε) graph of the interval from its edge list,
    written into ``labels`` (covers × ε × positions). Passes over chunks of the list
    (counts; union–find of core points; borders) serve every graph at once (graph
    g = cover · k + ε)."""
    member = multiplicity > 0
    covers, n = member.shape
    k = len(edges.smaller)
    graphs = covers * k
    device = member.device
    # Graph g holds a pair when its level is at most the number of ε below ε_(g mod k).
    smaller = torch.as_tensor(edges.smaller, device=device).repeat(covers)[:, None]  # (G, 1)
    core = (_neighbour_counts(edges, multiplicity) >= min_samples) & member[:, None, :]
    core = core.view(graphs, n)
    border = member.repeat_interleave(k, dim=0) & ~core                       # (G, n)

    # Roots are numbered over all graphs at once (graph g's positions are g·n + i), so
    # one union–find joins every graph's components of a chunk. Kept as (n, G): a
    # chunk's gather is then of contiguous rows.
    # Int32 where the numbers fit: half the memory traffic of the chunks' gathers.
    offset = torch.arange(graphs, device=device) * n
    root = torch.where(core.T, torch.arange(n, device=device)[:, None] + offset, -1)
    root = root.int() if graphs * n < 2**31 else root
    for gi, gj, level in edges.chunks():
        root_i, root_j = root[gi], root[gj]                                       # (c, G)
        join = (level[:, None] <= smaller.T) & (root_i >= 0) & (root_j >= 0) & (root_i != root_j)
        pair, g = join.nonzero(as_tuple=True)
        if len(g):
            root = _join_roots(root.flatten(), root_i[pair, g], root_j[pair, g]).view(n, graphs)
    root = root.T
    flat_labels = labels.reshape(graphs, n)  # g = cover · k + ε
    core_np, component = core.cpu().numpy(), (root - offset[:, None]).cpu().numpy()
    for g in range(graphs):
        core_positions = np.flatnonzero(core_np[g])
        flat_labels[g, core_positions] = _number_clusters(component[g, core_positions],
                                                          order[g // k, core_positions])
    # Borders: the lowest-numbered cluster among their core neighbours.
    border_any = border.any(dim=0)
    label_t = torch.as_tensor(flat_labels, device=device).flatten()
    big = torch.iinfo(torch.int64).max
    best = torch.full((graphs * n,), big, dtype=torch.int64, device=device)
    for gi, gj, level in edges.chunks():
        near_border = (border_any[gi] | border_any[gj]).nonzero().squeeze(1)
        if len(near_border) == 0:
            continue
        bi, bj = gi[near_border], gj[near_border]
        pair_in = level[near_border][None, :] <= smaller
        for to_border, to_core in ((bi, bj), (bj, bi)):
            g, pair = (pair_in & border[:, to_border] & core[:, to_core]).nonzero(as_tuple=True)
            best.scatter_reduce_(0, g * n + to_border[pair], label_t[g * n + to_core[pair]],
                                 "amin")
    best = best.view(graphs, n).cpu().numpy()
    joined = best < big
    flat_labels[joined] = best[joined]
    labels[...] = flat_labels.reshape(labels.shape)  # (a no-op where reshape gave a view)


def interval_labels(cloud: torch.Tensor, sqnorm: torch.Tensor, rows: np.ndarray,
                    weight: np.ndarray, membership: np.ndarray, eps: list[float],
                    min_samples: int, tile: int = 2048,
                    stats: EngineStats | None = None,
                    cache_bytes: int = 256 << 20, order: np.ndarray | None = None
                    ) -> np.ndarray:
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
        ``(P, len(rows))``: which rows the interval holds in each of P covers (bool), or
        how many times (integers: a bootstrap's resample holds a row 0, 1, 2, … times);
        a row weighs ``membership · weight`` in a cover.
    eps, min_samples
        DBSCAN's parameters (d ≤ ε; a core point has ≥ min_samples points within ε,
        itself and its duplicates included), one labelling per ε.
    tile
        Rows (and columns) of one distance tile.
    stats
        Counters to add to.
    cache_bytes
        Largest size of the interval's edge list (about 2 bytes per pair within the widest
        ε) kept from the counting pass for the later passes; denser intervals recompute
        distances in each pass instead.
    order
        ``(P, len(rows))``: the index at which each cover's cloud holds each row, which
        numbers the clusters (default ``rows``). A resample holds a point with duplicates
        at the first copy it drew, not always at ``rows``.

    Returns
    -------
    numpy.ndarray
        int64 ``(P, len(eps), len(rows))``: labels numbered as scikit-learn numbers
        them on the interval's points of that cover; −1 for noise and non-members.
    """
    eps = [float(e) for e in eps]
    n, covers, k = len(rows), len(membership), len(eps)
    if k > 255:  # an edge's level is a uint8
        raise ValueError(f"at most 255 ε values per pass, got {k}")
    graphs = [(p, e) for p in range(covers) for e in range(k)]
    stats = stats if stats is not None else EngineStats()
    labels = np.full((covers, k, n), -1, dtype=np.int64)
    if n == 0:
        return labels
    device = cloud.device
    part = _Interval(cloud, sqnorm, rows, eps, tile, stats)
    release_free_heap()
    where = np.searchsorted(rows, part.rows)
    # Float32 holds the multiplicities exactly (far below 2**24).
    multiplicity = torch.as_tensor(np.asarray(membership)[:, where] * np.asarray(weight)[where],
                                   device=device, dtype=torch.float32)         # (P, n)
    member = multiplicity > 0
    order = np.broadcast_to(rows if order is None else order, membership.shape)[:, where]
    pairs = part.tile_pairs()
    for b, c in pairs:
        stats.pairs_in_windows += ((part.blocks[b][1] - part.blocks[b][0])
                                   * (part.blocks[c][1] - part.blocks[c][0]) * (2 - (b == c)))

    def span(block, mask=None):
        start, stop = part.blocks[block]
        if mask is None:
            return torch.arange(start, stop, device=device)
        return torch.nonzero(mask[start:stop]).flatten() + start

    # First try: whole tiles, keeping every tile's close pairs as an edge list while it
    # fits in ``cache_bytes``; the later passes then work on the edges alone (linear in
    # their number). A dense interval whose edges do not fit falls back to the passes
    # below, which recompute distances tile by tile instead.
    edges = _edge_lists(part, pairs, span, cache_bytes)
    stats.intervals_without_edge_list += edges is None
    if edges is not None:
        release_free_heap()
        _labels_from_edges(part, edges, multiplicity, order, min_samples, labels)
        release_free_heap()
        out = np.empty_like(labels)
        out[:, :, where] = labels
        return out

    member_w = multiplicity.T.contiguous()                                    # (n, P)
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
        # In slabs of rows, so that listing a dense tile's pairs stays small.
        for rows_s in rows_b.split(max(1, _SLAB_PAIRS // len(cols_c))):
            rows_np = rows_s.cpu().numpy()
            tile_bc = part.distances(rows_s, cols_c)
            for e in sorted({e for _, e in needed}):
                close = part.close(tile_bc, e)
                close &= core_by_eps[e, rows_s][:, None] & core_by_eps[e, cols_c][None, :]
                i, j = close.nonzero(as_tuple=True)
                for p in (p for p, e2 in needed if e2 == e):
                    # Only pairs of core points whose components differ go to the
                    # union–find (in a tile already joined that is few of its pairs).
                    roots_r = torch.as_tensor(_find(parents[p, e], rows_np), device=device)
                    roots_c = torch.as_tensor(_find(parents[p, e], cols_np), device=device)
                    keep = (core_t[p, e, rows_s[i]] & core_t[p, e, cols_c[j]]
                            & (roots_r[i] != roots_c[j]))
                    if keep.any():
                        _union(parents[p, e], roots_r[i[keep]].cpu().numpy(),
                               roots_c[j[keep]].cpu().numpy())

    for p, e in graphs:
        core_positions = np.flatnonzero(core[p, e])
        if len(core_positions):
            labels[p, e, core_positions] = _number_clusters(
                _find(parents[p, e], core_positions), order[p, core_positions])

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
            for rows_s in rows_b.split(max(1, _SLAB_PAIRS // len(cols))):
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

    out = np.empty_like(labels)
    out[:, :, where] = labels
    return out


@functools.cache
def _glibc():
    """The C library where it is glibc (mallopt and malloc_trim are glibc's), else None."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def bound_heap_growth(threshold: int | None = None) -> bool:
    """Make glibc serve every allocation of ``threshold`` bytes or more by mmap (returned
    to the system when freed), for the rest of the process.

    By default glibc raises that threshold, up to 32 MB, each time such a block is
    freed; after that, tiles and index arrays come from per-thread heaps that fragment
    and do not shrink. The default threshold keeps a row slab's float32 distances
    (``_SLAB_PAIRS`` × 4 bytes), allocated for every slab, in the heap, where it is
    reused without page faults. Measured on a 300,000 × 1,024 grid with two workers
    (an earlier version of the engine): 1.77 GB of RSS beyond the cloud with glibc's
    default (a trace sampled every 20 ms), 0.30 GB with this and
    :func:`release_free_heap` (``bench/mapper.py``'s peak).

    Returns
    -------
    bool
        Whether the setting was made (False where the C library is not glibc).
    """
    libc = _glibc()
    threshold = threshold if threshold is not None else _SLAB_PAIRS * 4 + 4096
    m_mmap_threshold = -3  # from glibc's malloc.h
    return bool(libc and libc.mallopt(m_mmap_threshold, int(threshold)))


def release_free_heap() -> None:
    """Give the heaps' free pages back to the system (glibc's malloc_trim; elsewhere
    nothing). Called between the stages of an interval (ordering, edge listing, each
    ε's passes) and between intervals: each worker thread has its own heap, so pages
    one worker freed would otherwise stay resident while the other is at its peak
    (on the conv3 grid, 0.18 GB of RSS beyond the cloud with a trim per interval,
    0.14 GB with one per stage)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


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
                 stats: EngineStats | None = None, cache_bytes: int = 256 << 20,
                 workers: int | None = None
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
        same number of intervals. A row may repeat (a bootstrap's resample): it then
        weighs as many points.
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
        See :func:`interval_labels` (0 recomputes distances in every pass); shared by
        the workers (each keeps at most its share).
    workers
        Intervals clustered at once, each in a thread with one torch thread (default:
        torch's thread count on a CPU, where most steps after the distance products
        are single-threaded kernels; 1 on a GPU). With several workers torch runs one
        thread per operation until the generator is exhausted or closed.

    Yields
    ------
    interval, labels
        ``labels[p][e]``: the labels of cover p's interval members for ε number e, in
        member order, or None where the interval has fewer than min_samples points;
        intervals in order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    if len({len(cover) for cover in covers}) != 1:
        raise ValueError("the covers of one grid must have the same number of intervals")
    device = torch.device(device)
    bound_heap_growth()
    x = np.ascontiguousarray(points, dtype=np.float32)
    duplicates = find_duplicates(x)
    cloud = torch.from_numpy(x).to(device)
    # Squared norms a chunk at a time: cloud.pow(2) would be a second copy of the cloud.
    rows = max(1, (8 << 20) // (4 * max(x.shape[1], 1)))
    sqnorm = torch.cat([c.pow(2).sum(dim=1) for c in cloud.split(rows)])
    tile = tile or resolve_tile(x.shape[1], device)
    threads = torch.get_num_threads()
    workers = workers or (threads if device.type == "cpu" else 1)
    stats = stats if stats is not None else EngineStats()

    def cluster(i: int):
        members = [cover[i] for cover in covers]
        used = [len(m) >= min_samples for m in members]
        if not any(used):
            return None, None
        union = np.unique(np.concatenate([m for m, u in zip(members, used, strict=True) if u]))
        distinct = np.unique(duplicates.inverse[union])
        rows = duplicates.first[distinct]  # ascending: first occurrences keep index order
        # How many times each cover holds each distinct point (its duplicates and, in a
        # resample, its repeats), and the first of its rows each cover holds.
        membership = np.zeros((len(covers), len(rows)), dtype=np.int64)
        order = np.tile(rows, (len(covers), 1))
        local = []
        for p, m in enumerate(members):
            position = np.searchsorted(distinct, duplicates.inverse[m])
            if used[p]:
                membership[p] = np.bincount(position, minlength=len(rows))
                first = np.full(len(rows), np.iinfo(np.int64).max)
                np.minimum.at(first, position, m)
                order[p] = np.where(membership[p] > 0, first, rows)
            local.append(position)
        own = EngineStats()
        labels = interval_labels(cloud, sqnorm, rows, np.ones(len(rows), np.int64),
                                 membership, eps, min_samples, tile, own,
                                 cache_bytes // workers, order)
        release_free_heap()
        return own, [[labels[p, e, local[p]] if used[p] else None for e in range(len(eps))]
                     for p in range(len(covers))]

    pool = ThreadPoolExecutor(workers, thread_name_prefix="mapper-interval")
    if workers > 1:
        torch.set_num_threads(1)  # the workers share the cores instead
    try:
        # One worker runs in this thread (plain tracebacks and profiles).
        results = (pool.map if workers > 1 else map)(cluster, range(len(covers[0])))
        for i, (own, labels) in tqdm(enumerate(results), total=len(covers[0]),
                                     desc="mapper intervals", unit="interval",
                                     disable=not progress):
            if own is not None:
                stats.merge(own)
                yield i, labels
    finally:
        pool.shutdown(cancel_futures=True)
        torch.set_num_threads(threads)
