"""One mapper grid split by intervals into shards, and joined back into the same graphs.

A cloud too large for one machine's memory is clustered shard by shard: shard s takes a
contiguous range of the cover's intervals, reads only the rows those intervals hold
(:func:`topoact.store.read_activation_rows`), clusters them with the engine and keeps
its nodes as global row numbers (:class:`PartialGrid`). Joining the shards in interval
order gives the nodes in the order one pass gives them (interval by interval, clusters
numbered as scikit-learn numbers them), so the joined graphs equal
:func:`topoact.mapper.build_mapper_grid`'s, node numbers, edges and Jaccard weights
included. Only the lens (one value per point) and the nodes' row numbers are ever held
whole: the join needs O(memberships) memory, not the points.

In the workflow (``mapper.shards: N``) three steps run as jobs:
:func:`plan_for_store` (once per cloud: the lens, a pass over the store a block at a
time, the covers, and each shard's intervals and rows, in a ``mapper-shard-plan``
store), :func:`shard_for_store` (N jobs: one shard's nodes) and :func:`gather_for_store`
(the graph files, with the nodes' mean activations summed a block of the store at a
time, bit for bit those of one pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from topoact import mapper
from topoact.graph import DEFAULT_ENGINE, Cover, EngineOptions, MapperGraph


@dataclass
class PartialGrid:
    """One shard's nodes for each (cover, ε) of a grid: member rows (global, ascending)
    and the interval of each node, intervals ascending."""

    start: int
    stop: int
    nodes: dict[tuple[int, int], tuple[list[np.ndarray], list[int]]] = field(
        default_factory=dict)


def shard_ranges(sizes: np.ndarray, shards: int) -> list[tuple[int, int]]:
    """Contiguous interval ranges ``[start, stop)``, one per shard, holding about equal
    numbers of memberships (``sizes``: points per interval, e.g. of the widest cover).
    Cuts fall on interval boundaries, so a heavy interval can fill two shares: the shards
    left over come last, with empty ranges (a job that has nothing to do)."""
    if int(shards) != shards or shards < 1:
        raise ValueError(f"mapper.shards must be a positive integer, got {shards!r}")
    sizes = np.asarray(sizes, dtype=np.float64)
    total = np.cumsum(sizes)
    if len(sizes) == 0 or total[-1] == 0:
        bounds = np.array([0, len(sizes)])
    else:
        # Cut where the running count passes each equal share.
        cuts = np.searchsorted(total, total[-1] * np.arange(1, shards) / shards,
                               side="left") + 1
        bounds = np.unique(np.concatenate([[0], np.clip(cuts, 1, len(sizes)), [len(sizes)]]))
    ranges = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return ranges + [(len(sizes), len(sizes))] * (shards - len(ranges))


def shard_rows(members: list[list[np.ndarray]], start: int, stop: int) -> np.ndarray:
    """The rows (ascending, once each) that a shard's intervals hold in any cover."""
    held = [cover[i] for cover in members for i in range(start, stop)]
    return np.unique(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)


def cluster_shard(points: np.ndarray, rows: np.ndarray, members: list[list[np.ndarray]],
                  epsilons: list[float], min_samples: int, start: int, stop: int, *,
                  engine: EngineOptions = DEFAULT_ENGINE) -> PartialGrid:
    """Cluster intervals ``[start, stop)`` of every cover.

    Parameters
    ----------
    points
        The coordinates of ``rows`` (a shard's rows only), in the order of ``rows``.
    rows
        Global row numbers, ascending (:func:`shard_rows`).
    members
        Each cover's members of intervals ``start`` to ``stop`` − 1, as global rows
        (``Cover.members`` of the lens, sliced).
    engine
        How the engine runs (see :class:`~topoact.graph.EngineOptions`).
    """
    if start == stop:  # a shard left over (see shard_ranges): no nodes
        return PartialGrid(start, stop, {(p, e): ([], []) for p in range(len(members))
                                         for e in range(len(epsilons))})
    nodes = mapper.cluster_nodes(np.asarray(points), members, epsilons, min_samples,
                                 rows=np.asarray(rows), first=start, engine=engine)
    return PartialGrid(start, stop, nodes)


def join_shards(partials: list[PartialGrid], covers: list[Cover], lens: np.ndarray
                ) -> dict[tuple[int, int], MapperGraph]:
    """The grid's graphs from its shards' nodes (shards in any order; their interval
    ranges must tile the cover without gaps or overlaps). Graphs come without params."""
    partials = sorted(partials, key=lambda part: part.start)
    expected = 0
    for part in partials:
        if part.start != expected:
            raise ValueError(f"shards leave intervals [{expected}, {part.start}) out or "
                             "overlap: each interval must be in exactly one shard")
        expected = part.stop
    if expected != len(covers[0].lower):
        raise ValueError(f"the shards end at interval {expected}; the cover has "
                         f"{len(covers[0].lower)}")
    graphs = {}
    for key in partials[0].nodes:
        node_members = [m for part in partials for m in part.nodes[key][0]]
        node_interval = [i for part in partials for i in part.nodes[key][1]]
        graphs[key] = mapper.assemble(node_members, node_interval, covers[key[0]], lens)
    return graphs


# --------------------------------------------------------------------------- store to store
