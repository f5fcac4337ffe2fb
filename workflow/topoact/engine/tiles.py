"""Tiling: an interval's distinct points in projection order, their distance tiles and
close pairs (float32, rechecked in float64 near ε), and the numbering of clusters.

The sizes below bound the engine's working memory; tests shrink them to reach every path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from topoact.graph import EngineStats

#: Float32 unit roundoff: the width of the band of distances that are rechecked in float64.
_UNIT_ROUNDOFF = float(np.finfo(np.float32).eps) / 2


#: Pairs per distance slab while listing edges (bounds the listing's working memory).
SLAB_PAIRS = 1 << 19

#: Close pairs per chunk of the passes over an edge list (bounds their working memory).
CHUNK_PAIRS = 1 << 17

#: Bins of the neighbour-count histogram (8 bytes each): more levels are read in turn.
HISTOGRAM_BINS = 1 << 22


class Interval:
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
        # The band's scale, once per interval (not a host read of every tile's norms):
        # an l2-lens interval's norms differ little, so the band is hardly wider.
        self.band = self.tolerance * 2 * float(self.sqnorm.max()) if n else 0.0

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

    def span(self, block: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The positions of a block (those where ``mask`` is set, when given)."""
        start, stop = self.blocks[block]
        if mask is None:
            return torch.arange(start, stop, device=self.index.device)
        return torch.nonzero(mask[start:stop]).flatten() + start

    def tile_pairs(self) -> list[tuple[int, int]]:
        """Block pairs (b, c ≥ b) whose projections are within ε, diagonal first."""
        pairs = [(b, c) for b in range(len(self.blocks)) for c in range(b, self.window[b][1])]
        return sorted(pairs, key=lambda bc: (bc[1] - bc[0], bc))

    def points(self, positions: torch.Tensor) -> torch.Tensor:
        """The coordinates of interval positions (a gathered copy)."""
        return self.cloud[self.index[positions]]

    def distances(self, rows: torch.Tensor, cols: torch.Tensor,
                  a: torch.Tensor | None = None, b: torch.Tensor | None = None) -> Tile:
        """The tile's ‖y‖² − 2x·y (float32; ‖x‖² goes into each row's threshold).
        ``a`` and ``b``: the rows' and columns' coordinates where already gathered."""
        a = self.points(rows) if a is None else a
        b = self.points(cols) if b is None else b
        na, nb = self.sqnorm[rows], self.sqnorm[cols]
        partial = torch.addmm(nb[None, :], a, b.T, alpha=-2)
        self.stats.pairs_computed += partial.numel()
        return Tile(a, b, na, partial, self.band)

    def close(self, tile: Tile, e: int) -> torch.Tensor:
        """Boolean mask of the tile's pairs within the e-th ε (d ≤ ε, ties decided in
        float64 from the coordinates)."""
        threshold = self.eps2[e] - tile.na
        close = tile.partial <= (threshold - tile.band)[:, None]
        unsure = tile.partial <= (threshold + tile.band)[:, None]
        unsure ^= close
        i, j = unsure.nonzero(as_tuple=True)
        if len(i):
            exact = tile.exact_sqdist(i, j)
            close[i, j] = exact <= self.eps2[e]
            self.stats.pairs_rechecked += len(i)
        return close

    def close_pairs(self, tile: Tile, e: int, upper: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(row, column) tile indices of the pairs within the e-th ε, listed from one
        comparison: pairs inside the rounding band are then decided in float64.
        ``upper`` keeps only column > row (a diagonal tile, each pair once)."""
        threshold = self.eps2[e] - tile.na
        candidate = tile.partial <= (threshold + tile.band)[:, None]
        if upper:
            candidate.triu_(diagonal=1)
        i, j = candidate.nonzero(as_tuple=True)
        # Indices, not masks, of the unsure pairs: one host wait (the count) instead of
        # one per masked read and write.
        unsure = (tile.partial[i, j] > (threshold - tile.band)[i]).nonzero().squeeze(1)
        if len(unsure):
            exact = tile.exact_sqdist(i[unsure], j[unsure])
            keep = torch.ones(len(i), dtype=torch.bool, device=i.device)
            keep[unsure] = exact <= self.eps2[e]
            self.stats.pairs_rechecked += len(unsure)
            kept = keep.nonzero().squeeze(1)
            i, j = i[kept], j[kept]
        return i, j

    def close_levels(self, tile: Tile, diagonal: int | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The tile's pairs within the widest ε, from one comparison, each with its
        *level*: the number of the ε it is farther than (so it belongs to the graph of
        ε_e exactly when its level ≤ the number of ε smaller than ε_e). Pairs inside
        the rounding band of some ε are decided in float64; those of the widest ε's
        band found farther keep level ``len(eps)`` (in no graph: every pass skips
        them) rather than being filtered out, which would cost a device
        synchronisation per slab. ``diagonal`` keeps only the pairs with column − row
        ≥ ``diagonal`` (a slab of a diagonal tile: each pair once). Tile positions come
        back as int16 where they fit (a quarter of int64)."""
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
        unsure = unsure.nonzero().squeeze(1)  # indices: one host wait, not three
        if len(unsure):
            exact = tile.exact_sqdist(i[unsure], j[unsure])
            level[unsure] = sum((exact > eps2).to(torch.uint8) for eps2 in self.eps2)
            self.stats.pairs_rechecked += len(unsure)
        small = torch.int16 if max(tile.partial.shape) <= 1 << 15 else torch.int32
        return i.to(small), j.to(small), level

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
        close = (pair_sqdist(self.cloud, i, self.cloud, j) <= max(self.eps2)) & (i != j)
        return int(close.sum()) / samples * float(sizes.sum())


@dataclass
class Tile:
    a: torch.Tensor
    b: torch.Tensor
    na: torch.Tensor
    partial: torch.Tensor
    band: float

    def exact_sqdist(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Float64 squared distances of the pairs (a[i], b[j])."""
        return pair_sqdist(self.a, i, self.b, j)


def pair_sqdist(a: torch.Tensor, i: torch.Tensor, b: torch.Tensor, j: torch.Tensor
                 ) -> torch.Tensor:
    """Float64 squared distances of the pairs (a[i[k]], b[j[k]]), a batch at a time so
    that the float64 copies stay small (in high dimensions the rounding band holds many
    pairs, and 4,096 sampled pairs of 1,024-dimensional rows would be 64 MB at once).

    The squares are added in dimension order, one dimension at a time: the same float64
    operations, in the same order, as scikit-learn's exact trees (and scipy's
    ``sqeuclidean``) and on every device, so that a pair whose distance *is* ε (the
    adaptive ε is one pair's k-distance) is a neighbour here exactly when it is there.
    A vectorised ``sum`` rounds in another order and can put such a pair one ulp over."""
    batch = float64_batch(a.shape[1])
    if len(i) == 0:
        return torch.zeros(0, dtype=torch.float64, device=i.device)
    return torch.cat([_ordered_sum_of_squares(a[i[s:s + batch]].double()
                                              - b[j[s:s + batch]].double())
                      for s in range(0, len(i), batch)])


def _ordered_sum_of_squares(differences: torch.Tensor) -> torch.Tensor:
    """Row sums of squares, accumulated left to right over the columns: on the CPU a
    ``cumsum`` (a sequential scan there), elsewhere a column at a time (a CUDA scan
    adds in another order)."""
    squares = differences * differences
    if squares.device.type == "cpu":
        return torch.cumsum(squares, dim=1)[:, -1]
    total = torch.zeros(len(squares), dtype=torch.float64, device=squares.device)
    for column in squares.T:
        total += column
    return total


def float64_batch(dimensions: int, budget: int = 4 << 20) -> int:
    """Rows per batch of float64 pair differences: two gathered rows and their
    difference within about ``budget`` bytes."""
    return max(1, budget // (24 * max(dimensions, 1)))


def number_clusters(component: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cluster numbers of core points from any component ids, numbered by their lowest
    original row (``rows``), as scikit-learn numbers them."""
    roots, local = np.unique(component, return_inverse=True)
    lowest = np.full(len(roots), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(lowest, local, rows)
    rank = np.empty(len(roots), dtype=np.int64)
    rank[np.argsort(lowest, kind="stable")] = np.arange(len(roots))
    return rank[local]
