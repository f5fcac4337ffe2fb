"""The graph build: each cover interval's points clustered by the engine (scikit-learn's
DBSCAN semantics exactly), clusters as nodes, edges between nodes that share points;
a whole grid of overlaps × ε in one engine pass; rebuilt on resampled clouds for the
bootstrap."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from topoact.graph import DEFAULT_ENGINE, Cover, EngineOptions, MapperGraph
from topoact.mapper.covers import make_cover
from topoact.mapper.lenses import check_lens, l2_lens
from topoact.validation import check_finite


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
                 eps: float = 1.0, min_samples: int = 5, cover: str = "exact", *,
                 lens: np.ndarray | None = None, lens_name: str = "l2",
                 engine: EngineOptions = DEFAULT_ENGINE) -> MapperGraph:
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
    lens_name
        What the lens is (recorded in the graph's params).
    engine
        How the engine runs (device, tiles, workers, progress bar, counters,
        cancellation): a :class:`~topoact.graph.EngineOptions`; the graph is the same
        for every choice.

    Returns
    -------
    MapperGraph

    Raises
    ------
    ValueError
        For ε ≤ 0, min_samples < 1, bad cover arguments or non-finite points.
    """
    graphs = build_mapper_grid(points, n_intervals, [overlap], [eps], min_samples, cover,
                               lens=lens, lens_name=lens_name, engine=engine)
    return graphs[overlap, eps]


def build_mapper_grid(points: np.ndarray, n_intervals: int, overlaps: list[float],
                      epsilons: list[float], min_samples: int = 5, cover: str = "exact", *,
                      lens: np.ndarray | None = None, lens_name: str = "l2",
                      engine: EngineOptions = DEFAULT_ENGINE
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
    grid = cluster_covers(points, lens, covers, epsilons, min_samples, engine=engine)
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
                   epsilons: list[float], min_samples: int, *,
                   engine: EngineOptions = DEFAULT_ENGINE
                   ) -> dict[tuple[int, int], MapperGraph]:
    """The graphs of given covers × ε: DBSCAN per interval in one engine pass.

    ``points`` (N, C) and ``lens`` are checked by the caller. Graphs come without
    ``params``; keys are (cover number, ε number).
    """
    members = [c.members(lens) for c in covers]
    found = cluster_nodes(points, members, epsilons, min_samples, engine=engine)
    return {(p, e): assemble(node_members, node_interval, covers[p], lens)
            for (p, e), (node_members, node_interval) in found.items()}


def cluster_nodes(points: np.ndarray, members: list[list[np.ndarray]], epsilons: list[float],
                  min_samples: int, rows: np.ndarray | None = None, first: int = 0, *,
                  engine: EngineOptions = DEFAULT_ENGINE
                  ) -> dict[tuple[int, int], tuple[list, list]]:
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
        How the engine runs (see :class:`~topoact.graph.EngineOptions`).
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
    for i, labels in cluster_grid(points, local, list(epsilons), min_samples,
                                  **engine.keywords()):
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


def rebuild(graph: MapperGraph, points: np.ndarray, lens: np.ndarray, *,
            engine: EngineOptions = DEFAULT_ENGINE) -> MapperGraph:
    """The graph of another cloud with ``graph``'s cover, ε and min_samples.

    The cover's intervals are kept as they are (not refitted to the new lens range): the
    bootstrap of :mod:`topoact.stability` rebuilds a graph on resampled points this way.
    """
    points = np.asarray(points)
    lens = check_lens(lens, len(points))
    grid = cluster_covers(points, lens, [graph.cover], [graph.params["eps"]],
                          graph.params["min_samples"], engine=engine)
    rebuilt = grid[0, 0]
    rebuilt.params = dict(graph.params)
    return rebuilt


def resampled_graphs(graph: MapperGraph, points: np.ndarray, samples: list[np.ndarray], *,
                     engine: EngineOptions = DEFAULT_ENGINE) -> list[MapperGraph]:
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
                                  graph.params["min_samples"], **engine.keywords()):
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
