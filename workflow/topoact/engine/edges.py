"""The edge-list path: an interval's close pairs listed once, at about 2 bytes per pair
for every ε of a grid, then read in chunks by the passes (neighbour counts, union–find
of core points, borders) that serve every (cover, ε) graph at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from topoact.engine import tiles
from topoact.engine.tiles import Interval, number_clusters


class Piece(NamedTuple):
    """One slab's share of an :class:`EdgeList`: its row counts are
    ``row_counts[first_count:stop_count]``, its codes ``codes[first_code:stop_code]``,
    and its first pair is at interval position (``row``, ``column``)."""

    first_count: int
    stop_count: int
    first_code: int
    stop_code: int
    row: int
    column: int


@dataclass
class EdgeList:
    """An interval's close pairs (positions i < j) within the widest ε, each with its
    level (see :meth:`~topoact.engine.tiles.Interval.close_levels`), for every ε at
    about 2 bytes per pair:
    per pair, its column within its slab and its level packed in one int16 (int32 where
    they need more than 15 bits); per slab row, its number of pairs (pairs come row by
    row). Both live in buffers allocated once at the list's largest size, of which only
    the pages written become resident: kept as thousands of small tensors, the pieces
    interleaved with the listing's temporaries in the heap and grew it to several times
    the list."""

    smaller: list[int]         # smaller[e]: how many ε are smaller than ε_e
    column_bits: int           # code = level << column_bits | column
    codes: torch.Tensor        # capacity; the first used_codes are listed
    row_counts: torch.Tensor   # capacity; the first used_rows are listed
    pieces: list[Piece] = field(default_factory=list)
    used_codes: int = 0
    used_rows: int = 0

    @staticmethod
    def code_dtype(levels: int, columns: int) -> torch.dtype:
        """The code's dtype for ``levels`` ε (levels 0 to ``levels``: the last one is
        beyond every ε) and slabs of at most ``columns`` columns."""
        bits = max(1, (columns - 1).bit_length()) + levels.bit_length()
        return torch.int16 if bits <= 15 else torch.int32

    @classmethod
    def empty(cls, eps2: list[float], columns: int, capacity: int, rows: int,
              device: torch.device | str = "cpu") -> EdgeList:
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
        # index_add_, not bincount: the same counts without a host read of the largest
        # row (a device synchronisation per slab).
        counts.zero_().index_add_(0, i.long(), torch.ones(len(i), dtype=counts.dtype,
                                                          device=counts.device))
        codes = self.codes[self.used_codes:self.used_codes + len(i)]
        torch.bitwise_or(level.to(codes.dtype) << self.column_bits, j.to(codes.dtype),
                         out=codes)
        self.pieces.append(Piece(self.used_rows, self.used_rows + rows, self.used_codes,
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
        ``tiles.SLAB_PAIRS`` pairs)."""
        size = size or tiles.CHUNK_PAIRS
        mask = (1 << self.column_bits) - 1
        held, count = [], 0
        for piece in self.pieces:
            counts = self.row_counts[piece.first_count:piece.stop_count]
            code = self.codes[piece.first_code:piece.stop_code]
            small = torch.int16 if len(counts) <= 1 << 15 else torch.int32
            # The length is known here: given, it spares a device a synchronisation.
            piece_i = torch.arange(len(counts), dtype=small, device=code.device
                                   ).repeat_interleave(counts, output_size=len(code))
            start = 0
            while start < len(code):
                stop = min(len(code), start + size - count)
                part = code[start:stop]
                held.append((piece_i[start:stop].long() + piece.row,
                             (part & mask).long() + piece.column,
                             (part >> self.column_bits).to(torch.uint8)))
                count += stop - start
                start = stop
                if count == size:
                    yield tuple(torch.cat(parts) for parts in zip(*held, strict=True))
                    held, count = [], 0
        if count:
            yield tuple(torch.cat(parts) for parts in zip(*held, strict=True))



def list_edges(part: Interval, pairs: list[tuple[int, int]], budget: int) -> EdgeList | None:
    """Every close pair of the interval for every ε, or None when the list would not fit
    in ``budget`` bytes: decided first from a sample of pairs, so that a dense interval
    does not compute half a list to drop it, and enforced while listing. Each tile is
    listed in slabs of rows (at most ``tiles.SLAB_PAIRS`` pairs each)."""
    # A pair's code (the slabs' row counts add a little).
    code_bytes = EdgeList.code_dtype(len(part.eps2), part.tile).itemsize
    if code_bytes * part.sampled_density(pairs) > 0.8 * budget:
        return None
    slab_rows = sum(part.blocks[b][1] - part.blocks[b][0] for b, _ in pairs)
    edges = EdgeList.empty(part.eps2, part.tile, budget - 4 * slab_rows, slab_rows,
                            part.cloud.device)
    # Row blocks in order, so that a block's coordinates are gathered once for all its
    # tiles, and a column block's once per tile (not once per slab).
    row_block, row_points = None, None
    for b, c in sorted(pairs):
        if b != row_block:
            row_block, row_points = b, part.points(part.span(b))
        col_points = row_points if c == b else part.points(part.span(c))
        (first, stop), (col_first, col_stop) = part.blocks[b], part.blocks[c]
        slab = max(1, tiles.SLAB_PAIRS // (col_stop - col_first))
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


def join_roots(root: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
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


def neighbour_counts(edges: EdgeList, multiplicity: torch.Tensor) -> torch.Tensor:
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
    if n * m > tiles.HISTOGRAM_BINS:
        return added_neighbour_counts(edges, multiplicity.double(), counts)
    below = torch.zeros(n, m, dtype=torch.float64, device=multiplicity.device)  # levels < l
    group = max(1, tiles.HISTOGRAM_BINS // (n * m))  # levels counted per read of the list
    for first in range(0, k, group):
        last = min(k, first + group)
        # Levels first to last − 1, and one more bin for the pairs beyond every ε (level
        # k, listed but in no graph) where the group is the last.
        span = last - first + (last == k)
        histogram = torch.zeros(n * span * m, dtype=torch.int64, device=multiplicity.device)
        for gi, gj, level in edges.chunks():
            if first > 0 or last < k:
                keep = ((level >= first) & (level < last)).nonzero().squeeze(1)
                gi, gj, level = gi[keep], gj[keep], level[keep]
            for point, neighbour in ((gi, gj), (gj, gi)):
                key = (point * span + (level - first)) * m + code[neighbour]
                histogram.index_add_(0, key, torch.ones_like(key))  # no host read
        histogram = histogram.view(n, span, m)
        for level in range(first, last):
            below += histogram[:, level - first]
            for e in (e for e, smaller in enumerate(edges.smaller) if smaller == level):
                counts[:, e] += (below @ pattern.double()).T
    return counts


def added_neighbour_counts(edges: EdgeList, multiplicity: torch.Tensor,
                            counts: torch.Tensor) -> torch.Tensor:
    """:func:`neighbour_counts` pair by pair: each end of a pair adds the other's
    multiplicity in every cover (float64, exact for counts), once per ε it is within."""
    for gi, gj, level in edges.chunks():
        for e, smaller in enumerate(edges.smaller):
            keep = (level <= smaller).nonzero().squeeze(1)
            a, b = gi[keep], gj[keep]
            counts[:, e].index_add_(1, a, multiplicity[:, b])
            counts[:, e].index_add_(1, b, multiplicity[:, a])
    return counts


def labels_from_edges(part: Interval, edges: EdgeList, multiplicity: torch.Tensor,
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
    core = (neighbour_counts(edges, multiplicity) >= min_samples) & member[:, None, :]
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
            root = join_roots(root.flatten(), root_i[pair, g], root_j[pair, g]).view(n, graphs)
    root = root.T
    flat_labels = labels.reshape(graphs, n)  # g = cover · k + ε
    core_np, component = core.cpu().numpy(), (root - offset[:, None]).cpu().numpy()
    for g in range(graphs):
        core_positions = np.flatnonzero(core_np[g])
        flat_labels[g, core_positions] = number_clusters(component[g, core_positions],
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
