"""What a graph's files hold: each node's size, mean lens, class counts, mean activation
and layout (:func:`node_stats`), the explorer's node-link JSON and KeplerMapper's dict."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import _sparsetools  # private, but see member_sums: the order of its sums

from topoact.graph import MapperGraph, NodeStats
from topoact.layout import graph_layout


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
        # float64): a float64 copy of a large cloud would take far longer.
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


def known_classes(labels: np.ndarray | None, classes: list[str] | None, n_points: int
                  ) -> tuple[np.ndarray, list[str]]:
    """A cloud's labels and class names, with names made up where the store has none
    (``0``, ``1``, …; one class ``unlabelled`` for a cloud without labels)."""
    if labels is None:
        return np.zeros(n_points, dtype=np.int64), ["unlabelled"]
    return labels, classes or [str(k) for k in range(int(labels.max(initial=0)) + 1)]
