"""The data-example step: per node of each rendered graph of a layer, the points of its
top classes nearest its mean activation, as one selection that the rendering reads (no
torch: the selection jobs stay light)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from topoact import store
from topoact.featurevis.examples import select_examples
from topoact.mapper import top_classes as node_top_classes


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
