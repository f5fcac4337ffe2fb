"""Which features of a mapper graph are real, and how far a graph moves.

Carrière & Oudot ("Structure and stability of the one-dimensional mapper", 2018):

- **Extended persistence.** The function on a graph's nodes is each node's mean lens (the
  first coordinate of a 2-D lens). Its extended persistence diagram (gudhi's
  ``SimplexTree.extend_filtration`` + ``extended_persistence``) has four kinds of point:
  connected components (Ext₀⁺: min, max of the component), downward branches (Ord₀: a
  local minimum, the value where it merges), upward branches (Rel₁: a local maximum, the
  value where it merges) and loops (Ext₁⁻: the top and bottom of the thinnest loop).
  Births and deaths are read off gudhi's persistence pairs with the nodes' own values,
  so they are exact lens values, and each feature gets its nodes: the component, the
  branch below (above) its merge value, or a shortest cycle through the loop's closing
  edge within its height range.
- **Bootstrap.** The points are resampled with replacement B times; each resample's
  graph is rebuilt by the engine with the same cover intervals, ε and min_samples
  (:func:`topoact.mapper.rebuild`; all resamples in one engine pass, see
  :func:`topoact.mapper.resampled_graphs`), and its diagram's bottleneck distance to the
  original's is recorded. The distance at confidence α is gudhi's ``CoverComplex`` rule,
  the sorted distances' element ⌊αB⌋; a feature is significant when half its
  persistence exceeds it, and its confidence is the share of distances at most half its
  persistence.
- **Bottleneck distance of two extended diagrams**: the largest of the four kinds'
  bottleneck distances (points are matched only with points of their kind or the
  diagonal).
- **Membership similarity** of two graphs on the same points: every node of A matched to
  the node of B with the largest Jaccard index of members, averaged with the node sizes
  as weights, and the same from B to A; the mean of both directions (1 = the same nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gudhi
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from tqdm.auto import tqdm

from topoact.graph import MapperGraph
from topoact.mapper import resampled_graphs

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


def distance_at_confidence(distances: np.ndarray, confidence: float) -> float:
    """d_α: the sorted distances' element ⌊αB⌋ (gudhi's ``CoverComplex`` rule)."""
    _check_confidence(confidence)
    ordered = np.sort(np.asarray(distances, dtype=np.float64))
    if len(ordered) == 0:
        return math.nan
    return float(ordered[min(math.floor(confidence * len(ordered)), len(ordered) - 1)])


def confidence_at_distance(distances: np.ndarray, distance: float) -> float:
    """The share of bootstrap distances below ``distance`` (gudhi's ``CoverComplex``
    rule): a feature of half persistence h is significant at α exactly when its
    confidence exceeds α, ties at d_α included."""
    distances = np.asarray(distances, dtype=np.float64)
    return float((distances < distance).mean()) if len(distances) else math.nan


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"stability confidence α must be in (0, 1), got {confidence!r}")


def check_bootstrap(bootstrap: int) -> None:
    """B must be a positive integer."""
    if int(bootstrap) != bootstrap or bootstrap < 1:
        raise ValueError(f"stability bootstrap B must be a positive integer, got {bootstrap!r}")


def resamples(n_points: int, bootstrap: int, seed: int = 0) -> list[np.ndarray]:
    """B draws of n of the n points with replacement (seeded), each in index order."""
    rng = np.random.default_rng(seed)
    return [np.sort(rng.integers(0, n_points, size=n_points)) for _ in range(bootstrap)]


def bootstrap_distances(graph: MapperGraph, points: np.ndarray, bootstrap: int,
                        seed: int = 0, original: Diagram | None = None,
                        progress: bool = False, device: str = "cpu",
                        tile: int | None = None, batch: int = 50) -> np.ndarray:
    """Bottleneck distances from the graphs of B resamples to the original's diagram.

    Each resample draws N of the N points with replacement (kept in index order, so
    DBSCAN's border rule sees them in the original order) with their lens values; its
    graph is :func:`topoact.mapper.rebuild`'s, built ``batch`` resamples per engine pass
    (:func:`topoact.mapper.resampled_graphs`).
    """
    check_bootstrap(bootstrap)
    points = np.asarray(points)
    if len(points) != graph.n_points:
        raise ValueError(f"{len(points)} points, but the graph was built on {graph.n_points}")
    original = original if original is not None else graph_diagram(graph)
    samples = resamples(len(points), bootstrap, seed)
    distances = []
    with tqdm(total=bootstrap, desc="bootstrap", unit="graph", disable=not progress) as bar:
        for start in range(0, bootstrap, batch):
            for rebuilt in resampled_graphs(graph, points, samples[start:start + batch],
                                            device=device, tile=tile):
                distances.append(bottleneck(original, graph_diagram(rebuilt)))
                bar.update()
    return np.array(distances)


@dataclass
class Stability:
    """A graph's extended diagram with its bootstrap confidence.

    ``significant[i]`` and ``confidence[i]`` belong to feature i of ``diagram``.
    """

    diagram: Diagram
    distances: np.ndarray
    level: float
    d_alpha: float
    significant: np.ndarray
    confidence: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


def graph_stability(graph: MapperGraph, points: np.ndarray, bootstrap: int = 100,
                    confidence: float = 0.9, seed: int = 0, progress: bool = False,
                    device: str = "cpu", tile: int | None = None) -> Stability:
    """Extended diagram, bootstrap distances, d_α and each feature's significance.

    Parameters
    ----------
    graph
        The mapper graph (its cover, ε, min_samples and lens are reused).
    points
        The cloud it was built on.
    bootstrap
        Resamples B (≥ 1).
    confidence
        α in (0, 1).
    seed
        Seed of the resampling.

    Returns
    -------
    Stability
        A graph with no nodes gets an empty diagram and no bootstrap (d_α NaN).
    """
    check_bootstrap(bootstrap)
    _check_confidence(confidence)
    diagram = graph_diagram(graph, representatives=True)
    # bootstrap_seed, not seed: a record's ``seed`` is the model's (its meta).
    params = {"bootstrap": int(bootstrap), "confidence": float(confidence),
              "bootstrap_seed": int(seed)}
    if graph.n_nodes == 0:
        return Stability(diagram, np.zeros(0), confidence, math.nan, np.zeros(0, bool),
                         np.zeros(0), params)
    distances = bootstrap_distances(graph, points, bootstrap, seed, diagram, progress,
                                    device, tile)
    d_alpha = distance_at_confidence(distances, confidence)
    half = diagram.persistence / 2
    return Stability(diagram, distances, confidence, d_alpha, half > d_alpha,
                     np.array([confidence_at_distance(distances, h) for h in half]), params)


def feature_rows(result: Stability) -> list[dict[str, Any]]:
    """One row per feature: kind, birth, death, persistence, confidence, significant,
    its nodes."""
    d = result.diagram
    return [{"kind": KINDS[d.kind[i]], "birth": float(d.birth[i]), "death": float(d.death[i]),
             "persistence": float(d.persistence[i]), "confidence": float(result.confidence[i]),
             "significant": bool(result.significant[i]), "nodes": d.nodes[i].tolist()}
            for i in range(len(d))]


def stability_record(result: Stability, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON record of one graph's stability (what the explorer and summaries read)."""
    rows = feature_rows(result)
    counts = {kind: sum(r["significant"] for r in rows if r["kind"] == kind) for kind in KINDS}
    return {**(meta or {}), **result.params,
            "d_alpha": None if math.isnan(result.d_alpha) else result.d_alpha,
            "distances": result.distances.tolist(), "features": rows,
            "significant": counts, "n_features": len(rows)}


# --------------------------------------------------------------------------- graph distances

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


# --------------------------------------------------------------------------- stores and tables

def feature_table(result: Stability) -> pd.DataFrame:
    """The features TSV: kind, birth, death, persistence, confidence, significant and the
    number of nodes of each (the node lists are in the JSON record)."""
    rows = [{**row, "nodes": len(row["nodes"])} for row in feature_rows(result)]
    return pd.DataFrame(rows, columns=["kind", "birth", "death", "persistence", "confidence",
                                       "significant", "nodes"])


def summary_table(records: list[dict[str, Any]], distances: pd.DataFrame) -> pd.DataFrame:
    """One row per graph: where it sits, its size, d_α, significant features by kind, and
    its mean bottleneck distance and membership similarity to the other graphs of its
    layer's grid (``distances``: rows of sampling, layer, a, b, bottleneck, similarity)."""
    rows = []
    for record in records:
        row = {key: record.get(key) for key in ("dataset", "model", "seed", "sampling",
                                                 "layer", "parameters", "nodes", "edges",
                                                 "bootstrap", "bootstrap_seed", "confidence",
                                                 "d_alpha")}
        row["features"] = record["n_features"]
        for kind in KINDS:
            row[f"significant_{kind.replace(' ', '_')}"] = record["significant"][kind]
        mine = distances[(distances["sampling"] == record["sampling"])
                         & (distances["layer"] == record["layer"])
                         & ((distances["a"] == record["parameters"])
                            | (distances["b"] == record["parameters"]))]
        row["mean_bottleneck_to_grid"] = mine["bottleneck"].mean() if len(mine) else np.nan
        row["mean_similarity_to_grid"] = mine["similarity"].mean() if len(mine) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
