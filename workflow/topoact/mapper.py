"""Mapper graphs of point clouds: a lens, an interval cover, DBSCAN per interval.

The lens is ‖x‖₂ for activation clouds (TopoAct); :func:`make_lens` also gives the
first one or two principal components and the codensity (Gabrielsson–Carlsson's lenses
of the weight space). A lens of dimension d is covered by the product of d interval
covers, one per coordinate (KeplerMapper's hypercubes: n intervals per dimension, n^d
cubes, the first coordinate varying slowest).

Three covers of the lens range R = max f − min f by n intervals with overlap fraction p:

- ``exact``: n closed intervals of equal length L = R / (n − (n−1)p), adjacent ones
  overlapping by exactly pL, the first starting at min f and the last ending at max f.
- ``kmapper``: KeplerMapper 2.x's ``Cover(n_cubes=n, perc_overlap=p)`` reproduced
  operation for operation (centres ``linspace(min + R/2n, max − R/2n, n)``, radius
  R / (2n(1−p)), closed intervals, so it reaches past [min, max]; computed in float64).
- ``balanced``: the exact cover laid on the lens's quantiles instead of its values, so
  every interval holds the same number of points (±1) and adjacent intervals share the
  fraction p of each interval's points; on a uniformly spaced lens it is the exact cover.

Each interval's points (in their original index order) are clustered with exactly
scikit-learn's DBSCAN semantics by the tiled engine of :mod:`topoact.engine` (bounded
memory, CPU or CUDA, one pass for a whole grid of overlaps × ε); intervals holding fewer
than ``min_samples`` points are skipped (they can have no core point). Nodes are clusters;
two nodes are joined when their member sets intersect, weighted by the Jaccard index.
The lens is computed once, in the points' dtype, and reused by every step. In the
workflow, :func:`shared_grid_graph` lets the graph jobs of one layer share one engine
pass through a validated cache (``mapper.jobs: shared``).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import _sparsetools  # private, but see member_sums: the order of its sums
from scipy.spatial import cKDTree

from topoact import passes, store
from topoact.devices import resolve_device, set_threads
from topoact.graph import MAX_CUBES, Cover, EngineStats, MapperGraph, NodeStats
from topoact.layout import graph_layout, graph_layouts
from topoact.names import COVERS, LENSES, grid_name
from topoact.validation import check_finite


def l2_lens(points: np.ndarray) -> np.ndarray:
    """The lens f(x) = ‖x‖₂, in the dtype of ``points``."""
    points = np.asarray(points)
    return np.sqrt(np.einsum("ij,ij->i", points, points))


def pca_lens(points: np.ndarray, components: int) -> np.ndarray:
    """Projection on the first ``components`` principal directions (float64).

    Each direction's sign is fixed so that its largest loading is positive, so the lens
    does not flip between runs or platforms.

    Returns
    -------
    numpy.ndarray
        (N,) for one component, (N, components) otherwise.
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"a PCA lens needs a 2-D cloud of at least 2 points, got {x.shape}")
    if components > x.shape[1]:
        raise ValueError(f"a {components}-component PCA lens needs at least {components} "
                         f"dimensions, got {x.shape[1]}")
    centred = x - x.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    directions = directions[:components]
    largest = np.argmax(np.abs(directions), axis=1)
    directions *= np.sign(directions[np.arange(components), largest])[:, None]
    projection = centred @ directions.T
    return projection[:, 0] if components == 1 else projection


def codensity(points: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest neighbour, the point itself not counted.

    The codensity δ_k of Carlsson et al. 2008: small where the cloud is dense. Exact
    (scipy's k-d tree, fast in the few dimensions of k×k filters), in float64; a
    duplicate of a point counts as a neighbour at 0.
    """
    x = np.asarray(points, dtype=np.float64)
    if int(k) != k or k < 1:
        raise ValueError(f"the density k must be a positive integer, got {k!r}")
    if len(x) <= k:
        raise ValueError(f"the codensity with k = {k} needs more than {k} points, "
                         f"got {len(x)}")
    distances, _ = cKDTree(x).query(x, k=int(k) + 1)
    return distances[:, k]


def make_lens(points: np.ndarray, name: str = "l2", k: int = 15) -> np.ndarray:
    """The lens ``name``: ``l2`` (‖x‖₂, the points' dtype), ``pca1``/``pca2`` (principal
    components), or ``codensity`` (distance to the k-th neighbour)."""
    if name == "l2":
        return l2_lens(points)
    if name in ("pca1", "pca2"):
        return pca_lens(points, int(name[-1]))
    if name == "codensity":
        return codensity(points, k)
    raise ValueError(f"unknown lens {name!r}; choose one of {list(LENSES)}")


def exact_cover(lens: np.ndarray, n_intervals: int, overlap: float) -> Cover:
    """n equal intervals spanning exactly [min f, max f], adjacent overlap fraction p.

    A constant lens (R = 0) gets a single interval holding every point.
    """
    _check_cover_args(n_intervals, overlap)
    values = np.asarray(lens, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high == low:
        return Cover(np.array([low]), np.array([high]), "exact")
    length = (high - low) / (n_intervals - (n_intervals - 1) * overlap)
    lower = low + np.arange(n_intervals) * length * (1.0 - overlap)
    upper = lower + length
    lower[0], upper[-1] = low, high  # no rounding may leave an extreme point uncovered
    return Cover(lower, upper, "exact")


def kmapper_cover(lens: np.ndarray, n_intervals: int, overlap: float) -> Cover:
    """KeplerMapper 2.x's 1-D ``Cover(n_cubes, perc_overlap)``, operation for operation."""
    _check_cover_args(n_intervals, overlap)
    values = np.asarray(lens, dtype=np.float64)
    low, high = np.min(values), np.max(values)
    ranges = high - low
    inner_range = ((n_intervals - 1) / n_intervals) * ranges
    inset = (ranges - inner_range) / 2
    with np.errstate(divide="ignore"):
        radius = ranges / (2 * n_intervals * (1 - overlap))
    centers = np.linspace(low + inset, high - inset, num=n_intervals)
    return Cover(centers - radius, centers + radius, "kmapper")


def balanced_cover(lens: np.ndarray, n_intervals: int, overlap: float) -> Cover:
    """The exact cover of the quantile range [0, 1], mapped through the lens's quantiles.

    Interval i is ``[Q(a_i), Q(b_i)]`` with ``[a_i, b_i]`` the exact cover's i-th interval
    of [0, 1] and Q the empirical quantile function (linear between order statistics), so
    each interval holds L·(N−1) + 1 points, ±1, where L = 1 / (n − (n−1)p). Tied lens
    values cannot be split: an interval holds all points of a value it reaches.
    """
    _check_cover_args(n_intervals, overlap)
    values = np.asarray(lens, dtype=np.float64)
    fractions = exact_cover(np.array([0.0, 1.0]), n_intervals, overlap)
    if values.min() == values.max():
        return Cover(np.array([values.min()]), np.array([values.max()]), "balanced")
    lower = np.quantile(values, np.clip(fractions.lower, 0.0, 1.0))
    upper = np.quantile(values, np.clip(fractions.upper, 0.0, 1.0))
    return Cover(lower, upper, "balanced")


def _check_cover_args(n_intervals: int, overlap: float) -> None:
    if int(n_intervals) != n_intervals or n_intervals < 1:
        raise ValueError(f"intervals must be a positive integer, got {n_intervals!r}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap!r} "
                         "(config values are percents; the CLI takes fractions)")


def make_cover(lens: np.ndarray, n_intervals: int, overlap: float, mode: str = "exact") -> Cover:
    """The cover of the given mode (``exact``, ``kmapper`` or ``balanced``).

    A (N, d) lens gets the product of the d coordinates' covers (n^d cubes, the first
    coordinate varying slowest, as KeplerMapper's ``itertools.product`` orders them).
    """
    builders = {"exact": exact_cover, "kmapper": kmapper_cover, "balanced": balanced_cover}
    if mode not in builders:
        raise ValueError(f"unknown cover {mode!r}; choose one of {list(COVERS)}")
    values = np.asarray(lens)
    if values.ndim == 1:
        return builders[mode](values, n_intervals, overlap)
    per_dimension = [builders[mode](values[:, d], n_intervals, overlap)
                     for d in range(values.shape[1])]
    shape = tuple(len(c.lower) for c in per_dimension)
    if math.prod(shape) > MAX_CUBES:
        raise ValueError(
            f"{n_intervals} intervals on a {values.shape[1]}-D lens make "
            f"{math.prod(shape):,} cubes; at most {MAX_CUBES:,} (use fewer intervals)")
    grid = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    index = [g.ravel() for g in grid]
    lower = np.stack([c.lower[i] for c, i in zip(per_dimension, index, strict=True)], axis=1)
    upper = np.stack([c.upper[i] for c, i in zip(per_dimension, index, strict=True)], axis=1)
    return Cover(lower, upper, mode, shape)


def check_lens(lens: np.ndarray, n_points: int) -> np.ndarray:
    """A lens of one value (N,) or d values (N, d) per point, finite, as an array."""
    lens = np.asarray(lens)
    if lens.ndim not in (1, 2) or len(lens) != n_points:
        raise ValueError(f"the lens must be (N,) or (N, d) with N = {n_points} points, "
                         f"got shape {lens.shape}")
    check_finite(lens, "lens values")
    return lens


def graph_edges(indptr: np.ndarray, indices: np.ndarray, n_points: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges between nodes whose member sets intersect, with intersection and Jaccard.

    Returns
    -------
    edges, intersection, jaccard
        (E, 2) int64 pairs with source < target in lexicographic order, int64 counts,
        float64 Jaccard indices.
    """
    n_nodes = len(indptr) - 1
    if n_nodes == 0:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(0)
    membership = sparse.csr_matrix((np.ones(len(indices), dtype=np.int64), indices, indptr),
                                   shape=(n_nodes, n_points))
    shared = sparse.triu(membership @ membership.T, k=1).tocoo()
    order = np.lexsort((shared.col, shared.row))
    source, target = shared.row[order].astype(np.int64), shared.col[order].astype(np.int64)
    intersection = shared.data[order].astype(np.int64)
    sizes = np.diff(indptr)
    jaccard = intersection / (sizes[source] + sizes[target] - intersection)
    return np.stack([source, target], axis=1), intersection, jaccard


def build_mapper(points: np.ndarray, n_intervals: int = 70, overlap: float = 0.3,
                 eps: float = 1.0, min_samples: int = 5, cover: str = "exact",
                 lens: np.ndarray | None = None, progress: bool = False,
                 device: str = "cpu", tile: int | None = None, stats=None,
                 lens_name: str = "l2", workers: int | None = None,
                 cancel: Callable[[], bool] | None = None) -> MapperGraph:
    """Build the mapper graph of a point cloud.

    Parameters
    ----------
    points
        (N, C) activation vectors.
    n_intervals
        Number of cover intervals n.
    overlap
        Overlap fraction p of adjacent intervals, in [0, 1) (0.3 = 30 %).
    eps, min_samples
        DBSCAN parameters (core = ≥ min_samples points within distance ≤ eps, itself
        included).
    cover
        ``exact``, ``kmapper`` or ``balanced`` (see the module docstring).
    lens
        Precomputed lens values, (N,) or (N, d); by default ‖x‖₂ in the points' dtype.
        A d-dimensional lens is covered by n^d cubes (see :func:`make_cover`).
    progress
        Show a tqdm bar over intervals.
    device, tile
        Where the engine computes its distance tiles (``cpu``/``cuda``) and their size
        (default: derived from a 1 GB budget), see :mod:`topoact.engine`.
    stats
        An :class:`topoact.engine.EngineStats` to add the engine's counters to.
    lens_name
        What the lens is (recorded in the graph's params).
    workers, cancel
        Intervals clustered at once, and a check asked before each interval that stops
        the build with :class:`~topoact.graph.BuildCancelled` when it returns True (see
        :func:`topoact.engine.cluster_grid`).

    Returns
    -------
    MapperGraph

    Raises
    ------
    ValueError
        For ε ≤ 0, min_samples < 1, bad cover arguments or non-finite points.
    """
    graphs = build_mapper_grid(points, n_intervals, [overlap], [eps], min_samples, cover,
                               lens, progress, device, tile, stats, lens_name, workers, cancel)
    return graphs[overlap, eps]


def build_mapper_grid(points: np.ndarray, n_intervals: int, overlaps: list[float],
                      epsilons: list[float], min_samples: int = 5, cover: str = "exact",
                      lens: np.ndarray | None = None, progress: bool = False,
                      device: str = "cpu", tile: int | None = None, stats=None,
                      lens_name: str = "l2", workers: int | None = None,
                      cancel: Callable[[], bool] | None = None
                      ) -> dict[tuple[float, float], MapperGraph]:
    """The mapper graphs of a whole grid of overlaps × ε, sharing the engine's work.

    Interval i of every overlap's cover is clustered in one pass for every ε: one
    set of distance tiles over the union of those intervals serves all the graphs.
    Parameters are those of :func:`build_mapper`, with lists of overlaps and ε.

    Returns
    -------
    dict
        ``{(overlap, eps): MapperGraph}``, each equal to :func:`build_mapper`'s.
    """
    points = np.asarray(points)
    if points.ndim != 2:
        raise ValueError(f"points must be a 2-D (N, C) array, got shape {points.shape}")
    check_finite(points, "points")
    if len(points) == 0:
        raise ValueError("the point cloud is empty")
    lens = l2_lens(points) if lens is None else check_lens(lens, len(points))
    covers = [make_cover(lens, n_intervals, overlap, cover) for overlap in overlaps]
    grid = cluster_covers(points, lens, covers, epsilons, min_samples, progress, device, tile,
                          stats, workers, cancel)
    for (p, e), graph in grid.items():
        graph.params = graph_params(n_intervals, overlaps[p], epsilons[e], min_samples, cover,
                                    lens_name)
    return {(overlaps[p], epsilons[e]): graph for (p, e), graph in grid.items()}


def graph_params(n_intervals: int, overlap: float, eps: float, min_samples: int, cover: str,
                 lens_name: str = "l2") -> dict[str, Any]:
    """A graph's ``params``: what built it."""
    return {"intervals": int(n_intervals), "overlap": float(overlap), "eps": float(eps),
            "min_samples": int(min_samples), "cover": cover, "lens": lens_name}


def cluster_covers(points: np.ndarray, lens: np.ndarray, covers: list[Cover],
                   epsilons: list[float], min_samples: int, progress: bool = False,
                   device: str = "cpu", tile: int | None = None, stats=None,
                   workers: int | None = None, cancel: Callable[[], bool] | None = None
                   ) -> dict[tuple[int, int], MapperGraph]:
    """The graphs of given covers × ε: DBSCAN per interval in one engine pass.

    ``points`` (N, C) and ``lens`` are checked by the caller. Graphs come without
    ``params``; keys are (cover number, ε number).
    """
    members = [c.members(lens) for c in covers]
    found = cluster_nodes(points, members, epsilons, min_samples, progress=progress,
                          device=device, tile=tile, stats=stats, workers=workers,
                          cancel=cancel)
    return {(p, e): assemble(node_members, node_interval, covers[p], lens)
            for (p, e), (node_members, node_interval) in found.items()}


def cluster_nodes(points: np.ndarray, members: list[list[np.ndarray]], epsilons: list[float],
                  min_samples: int, rows: np.ndarray | None = None, first: int = 0,
                  **engine: Any) -> dict[tuple[int, int], tuple[list, list]]:
    """The nodes (member rows, intervals) of every (cover, ε), DBSCAN per interval in one
    engine pass.

    Parameters
    ----------
    points
        The coordinates of ``rows`` in their order (every row of the cloud when ``rows``
        is None).
    members
        Each cover's intervals, as global rows; nodes keep global rows.
    rows
        Global row numbers of ``points``, ascending (a shard's rows:
        :mod:`topoact.shards`).
    first
        The number of the first interval given (intervals are numbered from it).
    engine
        :func:`topoact.engine.cluster_grid`'s keywords (device, tile, progress, stats,
        workers, cancel).
    """
    from topoact.engine import cluster_grid  # here: it loads torch, which copying jobs skip

    for eps in epsilons:
        if not np.isfinite(eps) or eps <= 0:
            raise ValueError(f"DBSCAN ε must be a positive number, got {eps!r}")
    if int(min_samples) != min_samples or min_samples < 1:
        raise ValueError(f"min_samples must be a positive integer, got {min_samples!r}")
    local = members if rows is None else [[np.searchsorted(rows, m) for m in cover]
                                          for cover in members]
    found = {(p, e): ([], []) for p in range(len(members)) for e in range(len(epsilons))}
    for i, labels in cluster_grid(points, local, list(epsilons), min_samples, **engine):
        for (p, e), nodes in found.items():
            add_clusters(nodes, first + i, members[p][i], labels[p][e])
    return found


def add_clusters(nodes: tuple[list, list], interval: int, members: np.ndarray,
                 labels: np.ndarray | None, distinct: bool = False) -> None:
    """Append interval ``interval``'s clusters to ``nodes`` (member lists, intervals):
    cluster c holds the members labelled c, in member order (each once where
    ``distinct``: a resample's members repeat). Labels of None (an interval too small to
    cluster) add nothing. One stable sort splits every cluster out, however many there
    are (min_samples 1 and a small ε can make thousands in one interval)."""
    if labels is None or labels.max(initial=-1) < 0:
        return
    clustered = labels >= 0
    order = np.argsort(labels[clustered], kind="stable")
    counts = np.bincount(labels[clustered])
    for chosen in np.split(members[clustered][order], np.cumsum(counts)[:-1]):
        nodes[0].append(np.unique(chosen) if distinct else chosen)
        nodes[1].append(interval)


def assemble(node_members: list[np.ndarray], node_interval: list[int], cover: Cover,
             lens: np.ndarray) -> MapperGraph:
    """A graph (without params) from its nodes' member points and intervals."""
    sizes = np.array([len(m) for m in node_members], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    indices = (np.concatenate(node_members) if node_members else np.zeros(0)).astype(np.int64)
    edges, intersection, jaccard = graph_edges(indptr, indices, len(lens))
    return MapperGraph(indptr=indptr, indices=indices,
                       interval=np.asarray(node_interval, dtype=np.int32), cover=cover,
                       lens=lens, edges=edges, intersection=intersection, jaccard=jaccard)


def rebuild(graph: MapperGraph, points: np.ndarray, lens: np.ndarray, device: str = "cpu",
            tile: int | None = None, stats=None) -> MapperGraph:
    """The graph of another cloud with ``graph``'s cover, ε and min_samples.

    The cover's intervals are kept as they are (not refitted to the new lens range): the
    bootstrap of :mod:`topoact.stability` rebuilds a graph on resampled points this way.
    """
    points = np.asarray(points)
    lens = check_lens(lens, len(points))
    grid = cluster_covers(points, lens, [graph.cover], [graph.params["eps"]],
                          graph.params["min_samples"], device=device, tile=tile, stats=stats)
    rebuilt = grid[0, 0]
    rebuilt.params = dict(graph.params)
    return rebuilt


def resampled_graphs(graph: MapperGraph, points: np.ndarray, samples: list[np.ndarray],
                     device: str = "cpu", tile: int | None = None, progress: bool = False,
                     stats=None) -> list[MapperGraph]:
    """The graphs of resamples of a graph's points, in one engine pass.

    Each sample is an ascending array of point indices that may repeat (a draw with
    replacement); its graph equals ``rebuild(graph, points[s], graph.lens[s])``, nodes
    and all: points are numbered by their position in the sample. Every resample's
    interval is a cover of the *original* points where a point counts as many times as
    it was drawn, so the engine computes each interval's distances once for all the
    resamples.
    """
    from topoact.engine import cluster_grid  # here: it loads torch, which copying jobs skip

    intervals = graph.cover.members(graph.lens)
    drawn = [np.bincount(s, minlength=graph.n_points) for s in samples]
    covers = [[np.repeat(m, counts[m]) for m in intervals] for counts in drawn]
    found = [([], []) for _ in samples]
    for i, labels in cluster_grid(points, covers, [graph.params["eps"]],
                                  graph.params["min_samples"], device, tile, progress, stats):
        for b, nodes in enumerate(found):
            # Each drawn point once: its copies become positions in the sample below.
            add_clusters(nodes, i, covers[b][i], labels[b][0], distinct=True)
    graphs = []
    for sample, counts, (node_members, node_interval) in zip(samples, drawn, found,
                                                               strict=True):
        first = np.searchsorted(sample, np.arange(graph.n_points))  # of each point's copies
        positions = [_ranges(first[rows], counts[rows]) for rows in node_members]
        rebuilt = assemble(positions, node_interval, graph.cover, graph.lens[sample])
        rebuilt.params = dict(graph.params)
        graphs.append(rebuilt)
    return graphs


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, start + length)`` for each pair."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - ends + lengths, lengths) + np.arange(ends[-1] if len(ends) else 0)


def member_sums(membership: sparse.csr_matrix, blocks) -> np.ndarray:
    """Each node's members' activations summed in float32, from ``(first row, rows)``
    blocks of the cloud in row order (one block: the whole cloud).

    scipy's CSR × dense product adds each node's members' rows, ascending, into its
    output row (``csr_matvecs``); feeding it one block of columns after another into the
    same output adds in that very order, so the sums equal one product over the whole
    cloud bit for bit while only one block is in memory (a cloud read from its store).
    """
    columns = membership.astype(np.float32).tocsc()
    total = None
    for first, rows in blocks:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if total is None:
            total = np.zeros((membership.shape[0], rows.shape[1]), dtype=np.float32)
        block = columns[:, first:first + len(rows)].tocsr()
        block.sort_indices()
        _sparsetools.csr_matvecs(block.shape[0], block.shape[1], rows.shape[1], block.indptr,
                                 block.indices, block.data, rows.ravel(), total.ravel())
    return np.zeros((membership.shape[0], 0), np.float32) if total is None else total


def node_stats(graph: MapperGraph, points: np.ndarray | None, labels: np.ndarray,
               n_classes: int, position: np.ndarray | None = None,
               summed: np.ndarray | None = None) -> NodeStats:
    """Size, mean lens, class counts, mean activation vector and layout of every node.

    ``position`` is the graph's :func:`~topoact.layout.graph_layout`, where already
    computed (:func:`~topoact.layout.graph_layouts` lays out several side by side).
    ``summed``: the nodes' :func:`member_sums`, where computed from the store a block at
    a time (``points`` is then not read).
    """
    membership = graph.membership_matrix()
    size = graph.sizes
    safe = np.maximum(size, 1)[:, None]
    lens = graph.lens.astype(np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    onehot = sparse.csr_matrix((np.ones(len(labels), dtype=np.int64), labels,
                                np.arange(len(labels) + 1)), shape=(len(labels), n_classes))
    return NodeStats(
        size=size,
        mean_lens=(membership @ lens) / (safe if lens.ndim == 2 else safe[:, 0]),
        class_counts=np.asarray((membership @ onehot).todense(), dtype=np.int64),
        # Summed in float32 (the points' and the stored means' dtype; within ~1e-6 of
        # float64): a float64 copy of a 115k × 128 cloud took 20× as long.
        mean_activation=((member_sums(membership, [(0, points)]) if summed is None else summed)
                         / safe).astype(np.float32),
        position=(graph_layout(graph.n_nodes, graph.edges, graph.jaccard)
                  if position is None else position),
    )


def top_classes(class_counts: np.ndarray, top: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` most frequent classes of each node and their percentages.

    Ties are broken by the lower class index; classes absent from a node are not listed
    (their slot holds −1 and 0 %).
    """
    counts = np.asarray(class_counts)
    order = np.argsort(-counts, axis=1, kind="stable")[:, :top]
    chosen = np.take_along_axis(counts, order, axis=1)
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    percents = 100.0 * chosen / totals
    order = np.where(chosen > 0, order, -1)
    return order, np.where(chosen > 0, percents, 0.0)


def round_float32(values: np.ndarray, digits: int) -> np.ndarray:
    """Python's ``round(float(v), digits)`` of every float32 value, as one array operation.

    Equal for float32 values (``digits`` ≤ 7): their products with 10^digits are exact in
    float64 or far from a rounding boundary, and both round exact ties to even.
    """
    return np.round(np.asarray(values, dtype=np.float32).astype(np.float64), digits)


def node_link(graph: MapperGraph, stats: NodeStats, classes: list[str],
              meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The node-link export the explorer reads (TopoAct's field names).

    Nodes carry ``id``, ``interval``, ``size``, ``membership`` (point indices),
    ``top_classes`` (names), ``top_class_percents``, ``top_class_counts``, ``l2NormAvg``
    (mean lens; a list of d means for a d-dimensional lens) and ``average_activation``;
    links carry ``source``, ``target``, ``intersection`` and ``jaccard``.
    """
    order, percents = top_classes(stats.class_counts)
    activations = round_float32(stats.mean_activation, 6).tolist()
    nodes = []
    for node in range(graph.n_nodes):
        chosen = [int(c) for c in order[node] if c >= 0]
        nodes.append({
            "id": node,
            "interval": int(graph.interval[node]),
            "size": int(stats.size[node]),
            "membership": graph.members(node).tolist(),
            "top_classes": [classes[c] for c in chosen],
            "top_class_percents": [round(float(p), 3) for p in percents[node][:len(chosen)]],
            "top_class_counts": [int(stats.class_counts[node, c]) for c in chosen],
            "l2NormAvg": np.asarray(stats.mean_lens[node], dtype=float).tolist(),
            "average_activation": activations[node],
        })
    links = [{"source": int(s), "target": int(t), "intersection": int(i), "jaccard": float(j)}
             for (s, t), i, j in zip(graph.edges, graph.intersection, graph.jaccard, strict=True)]
    return {"directed": False, "multigraph": False,
            "graph": {**graph.params, "n_points": graph.n_points, "classes": list(classes),
                      **(meta or {})},
            "nodes": nodes, "links": links}


def kmapper_json(graph: MapperGraph, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """KeplerMapper's graph dictionary (``nodes``, ``links``, ``meta_data``) for interop.

    Node ids follow KeplerMapper: ``cube{i}_cluster{j}`` with i counting the non-empty
    cover intervals and j the DBSCAN label within the interval.
    """
    sizes = [len(m) for m in graph.cover.members(graph.lens)]
    nonempty_rank = np.cumsum([s > 0 for s in sizes]) - 1
    names, seen = [], {}
    for node in range(graph.n_nodes):
        interval = int(graph.interval[node])
        label = seen.get(interval, 0)
        seen[interval] = label + 1
        names.append(f"cube{int(nonempty_rank[interval])}_cluster{label}")
    links: dict[str, list[str]] = {}
    for source, target in graph.edges:
        links.setdefault(names[source], []).append(names[target])
    return {
        "nodes": {names[n]: graph.members(n).tolist() for n in range(graph.n_nodes)},
        "links": links,
        "meta_data": {"projection": {"l2": "l2norm"}.get(graph.params.get("lens", "l2"),
                                                          graph.params.get("lens")),
                      "n_cubes": graph.params.get("intervals"),
                      "perc_overlap": graph.params.get("overlap"),
                      "clusterer": f"DBSCAN(eps={graph.params.get('eps')}, "
                                   f"min_samples={graph.params.get('min_samples')})",
                      **(meta or {})},
    }


# --------------------------------------------------------------------------- names and stores

def mapper_for_store(points_path, graph_path, nodelink_path, kmapper_path, *, intervals: int,
                     overlap: float, eps: float, min_samples: int, cover: str,
                     attrs: dict[str, Any] | None = None, progress: bool = True,
                     device="cpu", tile: int | None = None, stats=None) -> MapperGraph:
    """Build one mapper graph from an activations store and write its three outputs.

    Writes the zarr graph (membership, node stats, edges), the node-link JSON the
    explorer reads and the KeplerMapper-style JSON.
    """
    output = GraphOutput(overlap, eps, graph_path, nodelink_path, kmapper_path, attrs or {})
    graphs = mapper_grid_for_store(points_path, [output], intervals=intervals,
                                   min_samples=min_samples, cover=cover, progress=progress,
                                   device=device, tile=tile, stats=stats)
    return graphs[0]


# A written graph's files: GraphOutput's field for each, and its suffix on one base path.
GRAPH_FILES = {"graph_path": ".zarr", "nodelink_path": ".json", "kmapper_path": ".kmapper.json"}


@dataclass(frozen=True)
class GraphOutput:
    """One graph of a grid and the three files it is written to."""

    overlap: float
    eps: float
    graph_path: Any
    nodelink_path: Any
    kmapper_path: Any
    attrs: dict[str, Any]

    def files(self) -> list[Any]:
        """The graph's three files, in :data:`GRAPH_FILES`' order."""
        return [getattr(self, field) for field in GRAPH_FILES]


def graph_files(base) -> list[Path]:
    """The three files of the graph at ``base`` (a path without suffix): its store, its
    node-link JSON and its KeplerMapper JSON."""
    return [Path(f"{base}{suffix}") for suffix in GRAPH_FILES.values()]


def mapper_grid_for_store(points_path, outputs: list[GraphOutput], *, intervals: int,
                          min_samples: int, cover: str, progress: bool = True,
                          device="cpu", tile: int | None = None, stats=None,
                          threads: int | None = None) -> list[MapperGraph]:
    """Build several graphs of one activations store in one engine pass and write each.

    The graphs share the engine's distance tiles (:func:`build_mapper_grid` over their
    overlaps × ε); each is written as :func:`mapper_for_store` writes one. ``device``
    may be ``auto`` (see :func:`topoact.devices.resolve_device`); ``threads``, when
    given, sets torch's thread count first (the engine's CPU workers) and lays the graphs
    out in as many processes.

    Returns
    -------
    list of MapperGraph
        In the order of ``outputs``.
    """
    if threads is not None:
        set_threads(threads)
    device = resolve_device(device)
    points, labels, classes = store.load_points(points_path)
    labels, classes = known_classes(labels, classes, len(points))
    overlaps = list(dict.fromkeys(o.overlap for o in outputs))
    epsilons = list(dict.fromkeys(o.eps for o in outputs))
    grid = build_mapper_grid(points, intervals, overlaps, epsilons, min_samples, cover,
                             progress=progress, device=device, tile=tile, stats=stats)
    graphs = [grid[output.overlap, output.eps] for output in outputs]
    write_graphs(points_path, outputs, graphs, points, labels, classes, threads or 1)
    return graphs


def known_classes(labels: np.ndarray | None, classes: list[str] | None, n_points: int
                  ) -> tuple[np.ndarray, list[str]]:
    """A cloud's labels and class names, with names made up where the store has none
    (``0``, ``1``, …; one class ``unlabelled`` for a cloud without labels)."""
    if labels is None:
        return np.zeros(n_points, dtype=np.int64), ["unlabelled"]
    return labels, classes or [str(k) for k in range(int(labels.max(initial=0)) + 1)]


def write_graphs(points_path, outputs: list[GraphOutput], graphs: list[MapperGraph],
                 points: np.ndarray | None, labels: np.ndarray, classes: list[str],
                 workers: int = 1) -> None:
    """Write each graph to its output's three files, laid out in ``workers`` processes.

    ``points`` None: the nodes' mean activations are summed from the store at
    ``points_path`` a block of rows at a time, every graph in one pass (a cloud larger
    than memory: :mod:`topoact.shards`), equal to the sums over the points in memory.
    """
    positions = graph_layouts([g.n_nodes for g in graphs], [g.edges for g in graphs],
                              [g.jaccard for g in graphs], workers=workers)
    sums = [None] * len(graphs)
    if points is None and graphs:
        stacked = sparse.vstack([g.membership_matrix() for g in graphs], format="csr")
        sums = np.split(member_sums(stacked, store.activation_chunks(points_path)),
                        np.cumsum([g.n_nodes for g in graphs])[:-1])
    for output, graph, position, summed in zip(outputs, graphs, positions, sums, strict=True):
        stats_table = node_stats(graph, points, labels, len(classes), position, summed)
        meta = {"source": str(points_path), **output.attrs}
        store.write_graph(output.graph_path, graph, stats_table, {**store.provenance(
            {**graph.params}, {"points": str(points_path)}, None), **meta,
            "classes": classes, "n_points": graph.n_points,
            "points_in_no_node": int((~graph.covered()).sum())})
        store.write_json(output.nodelink_path, node_link(graph, stats_table, classes, meta))
        store.write_json(output.kmapper_path, kmapper_json(graph, meta))


# --------------------------------------------------------------------------- a layer's shared pass

def layer_graphs(attrs: dict[str, Any], grid: list[tuple[float, str]], fixed_epsilon: float,
                 adaptive_epsilon_path, cover: str) -> list[GraphOutput]:
    """The graphs of a layer's grid (``(overlap percent, ε mode)`` pairs, see
    :func:`~topoact.names.grid_parameters`), named as the workflow names them, without
    output paths; ``attrs``: the layer's attributes. The adaptive graphs' ε is None while
    its estimate is not written (or the grid has none: ``adaptive_epsilon_path`` None)."""
    eps = {"fixed": fixed_epsilon, "adaptive": None}
    if adaptive_epsilon_path and Path(adaptive_epsilon_path).exists():
        eps["adaptive"] = store.read_epsilon(adaptive_epsilon_path)
    return [GraphOutput(overlap / 100, eps[mode], None, None, None,
                        {"name": grid_name(overlap, mode, cover), **attrs})
            for overlap, mode in grid]


def shared_grid_graph(points_path, cache, graph: GraphOutput, layer: list[GraphOutput], *,
                      intervals: int, min_samples: int, cover: str, device: str = "cpu",
                      tile: int | None = None, threads: int = 1,
                      report: Callable[[str, Path], None] | None = None,
                      files: dict[str, Any] | None = None
                      ) -> tuple[list[str], EngineStats | None]:
    """Write one graph from its layer's shared pass (``mapper.jobs: shared``).

    The first job of a layer to need a graph builds every graph of ``layer`` (and
    ``graph``) in one engine pass into ``cache``; the layer's other jobs then copy theirs
    (:func:`topoact.passes.copy_from_pass`, which loads no engine). A graph is taken from
    the cache only when the pass read this very cloud (path, size, modification time,
    inode) and built it with these parameters. A pass builds only what the cache lacks,
    and only the graphs whose ε is known: while the layer's adaptive ε is still to come
    (its job runs beside the fixed-ε graphs' on a machine with cores to spare), the first
    fixed-ε job builds the fixed-ε graphs, and the first adaptive job later adds the
    adaptive ones. Each job keeps its own inputs and parameters, so Snakemake reruns
    exactly the graphs whose inputs changed; the cache is an outcome of those runs, not a
    DAG input.

    Parameters
    ----------
    report
        Called as ``report(name, base)`` for each graph the pass builds, to write more of
        its files beside ``{base}.zarr`` in the cache (the workflow: its purity table and
        figure, so that the jobs that copy need neither pandas nor matplotlib).
    files
        Suffix in the cache → path to copy it to (default: the graph's three files;
        with ``report``, add the files it writes).

    Returns
    -------
    built, stats
        The names of the graphs this call's pass built, and the engine's counters; an
        empty list and None when the graph was copied from the cache.
    """
    cache = Path(cache)
    name = graph.attrs["name"]
    settings = {"intervals": intervals, "min_samples": min_samples, "cover": cover,
                "device": device, "tile": tile, "threads": threads}
    files = files or dict(zip(GRAPH_FILES.values(), graph.files(), strict=True))
    with passes.layer_lock(cache):
        source = passes.cloud_source(points_path)
        index = passes.pass_index(cache, source)
        built, stats = [], None
        if passes.pass_entry(index, name) != _pass_params(graph, settings, report):
            stats = EngineStats()
            built = _build_shared_pass(points_path, cache, index, [graph, *layer], source,
                                       stats, settings, report)
        for suffix, target in files.items():
            store.copy_output(cache / f"{name}{suffix}", target)
    return built, stats


def _pass_params(graph: GraphOutput, settings: dict[str, Any], report) -> dict[str, Any]:
    """The entry of a graph built by the pass (:func:`topoact.passes.graph_entry`)."""
    return passes.graph_entry(graph.overlap, graph.eps, settings["intervals"],
                              settings["min_samples"], settings["cover"],
                              report=report is not None)


def _build_shared_pass(points_path, cache: Path, index: dict[str, Any] | None,
                       graphs: list[GraphOutput], source: dict, stats: EngineStats,
                       settings: dict[str, Any], report) -> list[str]:
    """Add to a layer's cache, in one engine pass, the graphs of ``graphs`` it lacks whose
    ε is known (all of them when ``index``, the cache's from
    :func:`~topoact.passes.pass_index`, is None: the cache was made from another cloud),
    with each one's ``report`` files, then their entries to its index; graphs no longer
    in the layer leave the cache. Returns the names of the graphs built."""
    if index is None:
        passes.clear_layer_cache(cache)
    entries = index["graphs"] if index else {}
    missing = {g.attrs["name"]: g for g in graphs if g.eps is not None
               and entries.get(g.attrs["name"]) != _pass_params(g, settings, report)}
    layer_names = {g.attrs["name"] for g in graphs}
    kept = {n: params for n, params in entries.items()
            if n in layer_names and n not in missing}
    # The index first loses the entries about to be rewritten or dropped: a pass cut
    # short leaves no entry that names a half-written file.
    passes.write_index(cache, source, kept)
    for name in set(entries) - layer_names:
        for old in cache.glob(f"{name}.*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    outputs = [replace(g, **dict(zip(GRAPH_FILES, graph_files(cache / n), strict=True)))
               for n, g in missing.items()]
    mapper_grid_for_store(points_path, outputs, stats=stats, **settings)
    for name in missing if report else ():
        report(name, cache / name)
    passes.write_index(cache, source, {**kept, **{
        n: _pass_params(g, settings, report) for n, g in missing.items()}})
    return list(missing)
