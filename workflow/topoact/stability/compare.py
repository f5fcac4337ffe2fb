"""How far graphs on the same points are apart: bottleneck distances of their diagrams
and the membership similarity of their nodes, for a grid of graphs or against one
reference (a clean graph and its noisy variants)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from topoact.graph import MapperGraph
from topoact.stability.persistence import bottleneck, graph_diagram


def membership_similarity(a: MapperGraph, b: MapperGraph) -> float:
    """Size-weighted best-Jaccard matching of nodes, averaged over both directions.

    Both graphs must be built on the same points (in the same order). Two graphs without
    nodes are equal (1); one without nodes shares nothing with the other (0).
    """
    if a.n_points != b.n_points:
        raise ValueError(f"graphs on different points ({a.n_points} and {b.n_points}) "
                         "cannot be compared by membership")
    if a.n_nodes == 0 or b.n_nodes == 0:
        return 1.0 if a.n_nodes == b.n_nodes else 0.0
    shared = (a.membership_matrix() @ b.membership_matrix().T).tocoo()
    size_a, size_b = a.sizes.astype(np.float64), b.sizes.astype(np.float64)
    jaccard = shared.data / (size_a[shared.row] + size_b[shared.col] - shared.data)
    best_a, best_b = np.zeros(a.n_nodes), np.zeros(b.n_nodes)
    np.maximum.at(best_a, shared.row, jaccard)
    np.maximum.at(best_b, shared.col, jaccard)
    forward = float((size_a * best_a).sum() / size_a.sum())
    backward = float((size_b * best_b).sum() / size_b.sum())
    return (forward + backward) / 2


#: Columns of the grid-distance tables.
DISTANCE_COLUMNS = ["sampling", "layer", "a", "b", "bottleneck", "similarity"]


@dataclass
class GraphComparison:
    """Pairwise distances of named graphs: bottleneck of extended diagrams and membership
    similarity (square matrices in ``names`` order)."""

    names: list[str]
    bottleneck: np.ndarray
    similarity: np.ndarray

    def rows(self) -> list[dict[str, Any]]:
        """One row per unordered pair."""
        return [{"a": self.names[i], "b": self.names[j],
                 "bottleneck": float(self.bottleneck[i, j]),
                 "similarity": float(self.similarity[i, j])}
                for i in range(len(self.names)) for j in range(i + 1, len(self.names))]

    def table(self, **where: Any) -> pd.DataFrame:
        """The pairs as a table, led by the given columns (e.g. sampling and layer)."""
        return pd.DataFrame([{**where, **row} for row in self.rows()],
                            columns=[*where, *DISTANCE_COLUMNS[2:]])


def compare_graphs(graphs: dict[str, MapperGraph]) -> GraphComparison:
    """Every pair's bottleneck distance and membership similarity."""
    names = list(graphs)
    diagrams = {name: graph_diagram(graph) for name, graph in graphs.items()}
    size = len(names)
    distance, similarity = np.zeros((size, size)), np.ones((size, size))
    for i in range(size):
        for j in range(i + 1, size):
            a, b = graphs[names[i]], graphs[names[j]]
            distance[i, j] = distance[j, i] = bottleneck(diagrams[names[i]], diagrams[names[j]])
            similarity[i, j] = similarity[j, i] = membership_similarity(a, b)
    return GraphComparison(names, distance, similarity)


def compare_to_reference(reference: MapperGraph, others: dict[str, MapperGraph]
                         ) -> list[dict[str, Any]]:
    """How far each graph of ``others`` is from ``reference`` (e.g. noisy variants of a
    clean graph): rows of name, bottleneck and membership similarity."""
    diagram = graph_diagram(reference)
    return [{"name": name, "bottleneck": bottleneck(diagram, graph_diagram(graph)),
             "similarity": membership_similarity(reference, graph)}
            for name, graph in others.items()]
