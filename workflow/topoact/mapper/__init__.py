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
The lens is computed once, in the points' dtype, and reused by every step.

The package is cut by concern: :mod:`~topoact.mapper.lenses`,
:mod:`~topoact.mapper.covers`, :mod:`~topoact.mapper.build` (the graphs) and
:mod:`~topoact.mapper.exports` (node statistics, node-link and KeplerMapper JSON); their
public functions are importable from here. Writing graphs of a store, and a layer's
shared pass (``mapper.jobs: shared``), are steps: :mod:`topoact.steps.mapper`.
"""

# The types these functions take and return.
from topoact.graph import Cover, EngineStats, MapperGraph, NodeStats
from topoact.mapper.build import (
    add_clusters,
    assemble,
    build_mapper,
    build_mapper_grid,
    cluster_covers,
    cluster_nodes,
    graph_edges,
    graph_params,
    rebuild,
    resampled_graphs,
)
from topoact.mapper.covers import balanced_cover, exact_cover, kmapper_cover, make_cover
from topoact.mapper.exports import (
    kmapper_json,
    known_classes,
    member_sums,
    node_link,
    node_stats,
    round_float32,
    top_classes,
)
from topoact.mapper.lenses import check_lens, codensity, l2_lens, make_lens, pca_lens

__all__ = [
    "Cover", "EngineStats", "MapperGraph", "NodeStats", "add_clusters", "assemble",
    "balanced_cover", "build_mapper", "build_mapper_grid", "check_lens", "cluster_covers",
    "cluster_nodes", "codensity", "exact_cover", "graph_edges", "graph_params",
    "kmapper_cover", "kmapper_json", "known_classes", "l2_lens", "make_cover", "make_lens",
    "member_sums", "node_link", "node_stats", "pca_lens", "rebuild", "resampled_graphs",
    "round_float32", "top_classes",
]
