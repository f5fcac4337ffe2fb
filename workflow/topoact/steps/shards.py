"""The shard steps (``mapper.shards > 1``): a cloud's plan written once, each shard's
nodes clustered from only its rows of the store, and the gather that joins them into
the grid's graphs and writes them as one pass would."""

from __future__ import annotations

from typing import Any

import numpy as np

from topoact import mapper, store
from topoact.devices import resolve_device, set_threads
from topoact.graph import Cover, EngineOptions, MapperGraph
from topoact.shards import PartialGrid, cluster_shard, join_shards, shard_ranges, shard_rows
from topoact.steps.mapper import write_graphs
from topoact.validation import check_finite

#: The kinds of store a sharded grid writes (see :data:`topoact.store.REQUIRED_ARRAYS`).
PLAN, NODES = "mapper-shard-plan", "mapper-shard-nodes"


def plan_for_store(points_path, plan_path, *, intervals: int, overlaps: list[float],
                   cover: str, shards: int) -> list[tuple[int, int]]:
    """Plan the shards of a cloud's grid and write the plan store.

    The ℓ2 lens is computed a stored block of rows at a time (equal to the lens of the
    cloud in memory); the covers are the grid's (one per overlap); the shards' interval
    ranges hold about equal numbers of memberships of the widest cover. The store holds
    the lens, each cover's bounds, and each shard's rows (:func:`shard_rows`).

    Returns
    -------
    list of (start, stop)
        Each shard's intervals.
    """
    lens = np.concatenate([mapper.l2_lens(block)
                           for _, block in store.activation_chunks(points_path)])
    check_finite(lens, f"{points_path}: the points' ℓ2 norms (the lens)")
    if len(lens) == 0:
        raise ValueError(f"{points_path}: the point cloud is empty")
    covers = [mapper.make_cover(lens, intervals, overlap, cover) for overlap in overlaps]
    members = [c.members(lens) for c in covers]
    widest = max(range(len(covers)), key=lambda p: sum(map(len, members[p])))
    ranges = shard_ranges(np.array([len(m) for m in members[widest]]), shards)
    rows = [shard_rows(members, start, stop) for start, stop in ranges]
    store.write_arrays(plan_path, PLAN, {
        "lens": lens, "rows": np.concatenate(rows).astype(np.int64),
        "rows_indptr": np.cumsum([0, *map(len, rows)]).astype(np.int64),
        "cover_lower": np.stack([c.lower for c in covers]),
        "cover_upper": np.stack([c.upper for c in covers]),
    }, {**store.provenance({"intervals": int(intervals), "cover": cover,
                            "shards": int(shards)}, {"points": str(points_path)}, None),
        "intervals": int(intervals), "overlaps": [float(o) for o in overlaps], "cover": cover,
        "ranges": [list(r) for r in ranges], "n_points": len(lens)})
    return ranges


def shard_for_store(points_path, plan_path, shard: int, nodes_path, *, epsilons: list[float],
                    min_samples: int, device: str = "cpu", tile: int | None = None,
                    stats=None, threads: int | None = None) -> PartialGrid:
    """Cluster shard ``shard`` of a plan (every cover × ε) and write its nodes.

    Reads only the shard's rows of the cloud and of the lens: its memory is bounded by
    its rows, not the cloud.
    """
    if threads is not None:
        set_threads(threads)
    arrays, attrs = store.read_arrays(plan_path, PLAN,
                                      ("rows_indptr", "cover_lower", "cover_upper"))
    if not 0 <= shard < len(attrs["ranges"]):
        raise ValueError(f"{plan_path}: no shard {shard}; the plan has "
                         f"{len(attrs['ranges'])} (0 to {len(attrs['ranges']) - 1})")
    start, stop = attrs["ranges"][shard]
    first, last = arrays["rows_indptr"][shard:shard + 2]
    rows = store.read_rows(plan_path, PLAN, "rows", np.arange(first, last))
    lens = store.read_rows(plan_path, PLAN, "lens", rows)
    members = []
    for lower, upper in zip(arrays["cover_lower"], arrays["cover_upper"], strict=True):
        cover = Cover(lower[start:stop], upper[start:stop], attrs["cover"])
        members.append([rows[local] for local in cover.members(lens)])
    partial = cluster_shard(store.read_activation_rows(points_path, rows), rows, members,
                            epsilons, min_samples, start, stop,
                            engine=EngineOptions(device=resolve_device(device), tile=tile,
                                                 stats=stats))
    keys = list(partial.nodes)
    node_members = [m for key in keys for m in partial.nodes[key][0]]
    store.write_arrays(nodes_path, NODES, {
        "indptr": np.cumsum([0, *map(len, node_members)]).astype(np.int64),
        "indices": (np.concatenate(node_members) if node_members else np.zeros(0)
                    ).astype(np.int64),
        "interval": np.array([i for key in keys for i in partial.nodes[key][1]], np.int64),
        "key_indptr": np.cumsum([0, *(len(partial.nodes[key][1]) for key in keys)]),
    }, {"shard": int(shard), "start": start, "stop": stop, "keys": [list(k) for k in keys],
        "epsilons": [float(e) for e in epsilons], "min_samples": int(min_samples),
        "plan": str(plan_path)})
    return partial


def read_shard_nodes(path) -> tuple[PartialGrid, dict[str, Any]]:
    """A shard's nodes (:func:`shard_for_store`'s store) and the store's attributes."""
    arrays, attrs = store.read_arrays(path, NODES)
    members = np.split(arrays["indices"], arrays["indptr"][1:-1])
    partial = PartialGrid(attrs["start"], attrs["stop"])
    bounds = arrays["key_indptr"]
    for k, key in enumerate(attrs["keys"]):
        chosen = slice(bounds[k], bounds[k + 1])
        partial.nodes[tuple(key)] = (members[chosen], arrays["interval"][chosen].tolist())
    return partial, attrs


def gather_for_store(points_path, plan_path, nodes_paths: list, outputs: list, *,
                     min_samples: int, threads: int | None = None) -> list[MapperGraph]:
    """Join a plan's shards into the grid's graphs and write each to its
    :class:`~topoact.steps.mapper.GraphOutput`'s files, as one pass would write them
    (``threads``: processes laying the graphs out; the gather loads no torch).

    Returns
    -------
    list of MapperGraph
        In the order of ``outputs``.

    Raises
    ------
    ValueError
        When a shard was clustered with other ε or min_samples than the outputs ask for.
    """
    arrays, plan = store.read_arrays(plan_path, PLAN, ("lens",))
    lens = arrays["lens"]
    covers = [mapper.make_cover(lens, plan["intervals"], overlap, plan["cover"])
              for overlap in plan["overlaps"]]
    read = [read_shard_nodes(path) for path in nodes_paths]
    epsilons = read[0][1]["epsilons"]
    for path, (_, attrs) in zip(nodes_paths, read, strict=True):
        if attrs["epsilons"] != epsilons or attrs["min_samples"] != min_samples:
            raise ValueError(f"{path}: clustered with ε {attrs['epsilons']} and min_samples "
                             f"{attrs['min_samples']}; the gather expects ε {epsilons} and "
                             f"min_samples {min_samples} (rerun the shard)")
    grid = join_shards([partial for partial, _ in read], covers, lens)
    graphs = []
    for output in outputs:
        if output.overlap not in plan["overlaps"] or output.eps not in epsilons:
            raise ValueError(f"graph {output.attrs.get('name')} (overlap {output.overlap}, "
                             f"ε {output.eps}) is not in the shards' grid (overlaps "
                             f"{plan['overlaps']}, ε {epsilons})")
        graph = grid[plan["overlaps"].index(output.overlap), epsilons.index(output.eps)]
        graph.params = mapper.graph_params(plan["intervals"], output.overlap, output.eps,
                                           min_samples, plan["cover"])
        graphs.append(graph)
    labels, classes = mapper.known_classes(*store.load_labels(points_path), len(lens))
    write_graphs(points_path, outputs, graphs, None, labels, classes, threads or 1)
    return graphs
