"""The data examples of a layer's graphs (TopoAct's data example view): which points each
node shows, and the files their images are written to. numpy only: the selection job
does not load torch."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from topoact import store
from topoact.mapper import top_classes as node_top_classes


def select_examples(members: np.ndarray, labels: np.ndarray, points: np.ndarray,
                    centre: np.ndarray, top_classes: list[int], per_class: int = 5
                    ) -> dict[int, list[int]]:
    """Data examples of a node: up to ``per_class`` members of each top class.

    The members of a class closest to the node's mean activation are chosen (the most
    representative ones), ties broken by point index, so the choice is deterministic.

    Returns
    -------
    dict
        class index → point indices, in the order of ``top_classes``.
    """
    members = np.asarray(members)
    chosen: dict[int, list[int]] = {}
    member_labels = labels[members]
    for cls in top_classes:
        of_class = members[member_labels == cls]
        distance = np.linalg.norm(points[of_class] - centre, axis=1)
        order = np.lexsort((of_class, distance))[:per_class]
        chosen[int(cls)] = [int(i) for i in of_class[order]]
    return chosen


def graph_examples(graph_path: str | os.PathLike, points: np.ndarray, labels: np.ndarray,
                   top: int = 3, per_class: int = 5) -> list[list[dict[str, Any]]]:
    """Data examples of every node of a graph store: per node, a list of
    ``{"class": index, "points": [...]}`` for its top classes."""
    graph, stats, _ = store.read_graph(graph_path)
    if graph.n_points != len(points):
        raise ValueError(f"{graph_path}: graph has {graph.n_points} points but the "
                         f"activations store has {len(points)}")
    order, _ = node_top_classes(stats.class_counts, top)
    examples = []
    for node in range(graph.n_nodes):
        classes = [int(c) for c in order[node] if c >= 0]
        chosen = select_examples(graph.members(node), labels, points,
                                 stats.mean_activation[node], classes, per_class)
        examples.append([{"class": c, "points": chosen[c]} for c in classes])
    return examples


def select_layer_examples(graph_paths: dict[str, str], points_path: str | os.PathLike,
                          out_path: str | os.PathLike, top: int = 3, per_class: int = 5
                          ) -> dict[str, Any]:
    """Data examples of every node of every graph of one layer (rule select_data_examples).

    Writes JSON: ``graphs`` (parameter-set name → per node, the examples of its top
    classes) and ``points``, the sorted union of the chosen points — each rendered once
    and shared by every graph that shows it.
    """
    cloud = store.read_activations(points_path)
    graphs = {name: graph_examples(path, cloud.points, cloud.label, top, per_class)
              for name, path in sorted(graph_paths.items())}
    chosen = sorted({p for nodes in graphs.values() for node in nodes for ex in node
                     for p in ex["points"]})
    selection = {"kind": "data-examples", "points_source": str(points_path), "top": top,
                 "per_class": per_class, "graphs": graphs, "points": chosen}
    store.write_json(out_path, selection)
    return selection


def example_file_names(image: int, row: int, col: int) -> tuple[str, str]:
    """File names of a data example: its activation image and its input thumbnail."""
    return f"activation-{image}-{row}-{col}.png", f"image-{image}.png"
