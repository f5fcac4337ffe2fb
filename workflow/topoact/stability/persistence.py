"""A mapper graph's extended persistence (gudhi), each feature with its nodes, and the
bottleneck distance of two extended diagrams (see :mod:`topoact.stability`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import gudhi
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from topoact.graph import MapperGraph

KINDS = ("component", "downward branch", "upward branch", "loop")


def node_values(graph: MapperGraph) -> np.ndarray:
    """Each node's mean lens value (float64; the first coordinate of a 2-D lens)."""
    lens = np.asarray(graph.lens, dtype=np.float64)
    lens = lens[:, 0] if lens.ndim == 2 else lens
    if graph.n_nodes == 0:
        return np.zeros(0)
    return (graph.membership_matrix() @ lens) / np.maximum(graph.sizes, 1)


@dataclass(frozen=True)
class Diagram:
    """An extended persistence diagram: one row per feature of non-zero persistence.

    Attributes
    ----------
    kind
        Index into :data:`KINDS` of each feature.
    birth, death
        In the function's units (a loop and an upward branch have birth > death).
    nodes
        Each feature's nodes (empty arrays when representatives were not asked for).
    """

    kind: np.ndarray
    birth: np.ndarray
    death: np.ndarray
    nodes: list[np.ndarray] = field(default_factory=list)

    @property
    def persistence(self) -> np.ndarray:
        return np.abs(self.death - self.birth)

    def __len__(self) -> int:
        return len(self.kind)

    def points(self, kind: int) -> np.ndarray:
        """(k, 2) points of one kind as (lower, upper): the coordinates sorted, an isometry
        of the L∞ metric that keeps the bottleneck distance and suits every library."""
        chosen = self.kind == kind
        pairs = np.stack([self.birth[chosen], self.death[chosen]], axis=1)
        return np.sort(pairs, axis=1) if len(pairs) else np.zeros((0, 2))


def extended_diagram(n_nodes: int, edges: np.ndarray, values: np.ndarray,
                     representatives: bool = False) -> Diagram:
    """The extended persistence diagram of a graph with a function on its nodes.

    Parameters
    ----------
    n_nodes
        Nodes are 0 … n_nodes − 1.
    edges
        (E, 2) node pairs.
    values
        The function on the nodes; an edge takes the larger of its ends.
    representatives
        Also find each feature's nodes (see the module docstring).

    Returns
    -------
    Diagram
    """
    values = np.asarray(values, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(values) != n_nodes:
        raise ValueError(f"{len(values)} node values for {n_nodes} nodes")
    if n_nodes == 0:
        return Diagram(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), [])
    tree = gudhi.SimplexTree()
    tree.insert_batch(np.arange(n_nodes)[None, :], values)
    if len(edges):
        tree.insert_batch(edges.T, np.maximum(values[edges[:, 0]], values[edges[:, 1]]))
    tree.extend_filtration()
    tree.extended_persistence()  # computes the pairs read below
    cone = n_nodes  # extend_filtration's extra vertex
    rows = [_feature(birth, death, cone, values) for birth, death in tree.persistence_pairs()]
    rows = [r for r in rows if r is not None and r[1] != r[2]]
    rows.sort(key=lambda r: (r[0], -abs(r[2] - r[1]), r[1]))
    kind = np.array([r[0] for r in rows], dtype=np.int64)
    birth = np.array([r[1] for r in rows], dtype=np.float64)
    death = np.array([r[2] for r in rows], dtype=np.float64)
    nodes = ([_representative(r, n_nodes, edges, values) for r in rows] if representatives
             else [np.zeros(0, np.int64) for _ in rows])
    return Diagram(kind, birth, death, nodes)


def _feature(birth: list[int], death: list[int], cone: int, values: np.ndarray):
    """(kind, birth value, death value, critical simplices) of one persistence pair, or
    None for the cone's essential class."""
    if not death:
        return None
    plain_birth = [v for v in birth if v != cone]
    plain_death = [v for v in death if v != cone]
    if len(birth) == 1 and cone in death:
        return 0, values[birth[0]], values[plain_death[0]], (birth, death)
    if len(birth) == 1:
        return 1, values[birth[0]], values[death].max(), (birth, death)
    if cone in birth:
        return 2, values[plain_birth[0]], values[plain_death].min(), (birth, death)
    return 3, values[birth].max(), values[plain_death].min(), (birth, death)


def _adjacency(n_nodes: int, edges: np.ndarray, keep: np.ndarray) -> sparse.csr_matrix:
    """The graph induced on the nodes where ``keep`` is true (others isolated)."""
    chosen = edges[keep[edges[:, 0]] & keep[edges[:, 1]]]
    ones = np.ones(len(chosen))
    matrix = sparse.coo_matrix((ones, (chosen[:, 0], chosen[:, 1])), shape=(n_nodes, n_nodes))
    return (matrix + matrix.T).tocsr()


def _component_of(node: int, adjacency: sparse.csr_matrix) -> np.ndarray:
    _, labels = csgraph.connected_components(adjacency, directed=False)
    return np.flatnonzero(labels == labels[node])


def _representative(row, n_nodes: int, edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The nodes of one feature (see the module docstring)."""
    kind, birth, death, (birth_simplex, _) = row
    everything = np.ones(n_nodes, dtype=bool)
    if kind == 0:
        return _component_of(birth_simplex[0], _adjacency(n_nodes, edges, everything))
    if kind == 1:
        keep = values < death
        return _component_of(birth_simplex[0], _adjacency(n_nodes, edges, keep))
    if kind == 2:
        top = [v for v in birth_simplex if v != n_nodes][0]
        return _component_of(top, _adjacency(n_nodes, edges, values > death))
    a, b = birth_simplex
    band = (values >= death) & (values <= birth)
    for keep in (band, everything):  # the band holds such a cycle; the fallback is a guard
        others = edges[~(((edges[:, 0] == a) & (edges[:, 1] == b))
                         | ((edges[:, 0] == b) & (edges[:, 1] == a)))]
        _, previous = csgraph.shortest_path(_adjacency(n_nodes, others, keep), directed=False,
                                            unweighted=True, indices=a,
                                            return_predecessors=True)
        if previous[b] >= 0:
            path, node = [b], b
            while node != a:
                node = int(previous[node])
                path.append(node)
            return np.array(sorted(path), dtype=np.int64)
    return np.array(sorted({int(a), int(b)}), dtype=np.int64)


def graph_diagram(graph: MapperGraph, representatives: bool = False) -> Diagram:
    """The extended diagram of a mapper graph with its nodes' mean lens."""
    return extended_diagram(graph.n_nodes, graph.edges, node_values(graph), representatives)


def bottleneck(a: Diagram, b: Diagram) -> float:
    """Bottleneck distance of two extended diagrams: the largest over the four kinds."""
    return max(float(gudhi.bottleneck_distance(a.points(k), b.points(k), 0))
               for k in range(len(KINDS)))
