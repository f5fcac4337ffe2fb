"""Mapper purity measures of Purvine et al. (2023), "Mapper Graph Purity Measures".

- node-wise α_i = 1 / (number of distinct class labels in node i);
- point-wise β_x = mean of α_i over the nodes containing x (points in no node have none);
- class-wise γ_k = mean of β_x over the points of class k that lie in some node.

Points in no node are counted per class and reported beside γ, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from topoact.graph import MapperGraph


@dataclass
class Purity:
    """Purity of one mapper graph.

    Attributes
    ----------
    node
        α per node.
    point
        β per point (NaN for points in no node).
    class_purity
        γ per class (NaN for a class none of whose points lies in a node).
    class_points, class_uncovered
        Points of each class, and how many of them lie in no node.
    """

    node: np.ndarray
    point: np.ndarray
    class_purity: np.ndarray
    class_points: np.ndarray
    class_uncovered: np.ndarray

    @property
    def uncovered(self) -> int:
        return int(self.class_uncovered.sum())


def node_alpha(class_counts: np.ndarray) -> np.ndarray:
    """Node-wise purity α = 1 / (number of distinct classes), from (nodes, classes) counts
    (1 for an empty node)."""
    distinct = np.count_nonzero(np.asarray(class_counts), axis=1)
    return 1.0 / np.maximum(distinct, 1)


def mapper_purity(graph: MapperGraph, class_counts: np.ndarray, labels: np.ndarray,
                  n_classes: int) -> Purity:
    """Node-, point- and class-wise purity of a mapper graph.

    Parameters
    ----------
    graph
        The mapper graph.
    class_counts
        (nodes, classes) label counts of each node.
    labels
        Class label of every point.
    n_classes
        Number of classes.
    """
    labels = np.asarray(labels, dtype=np.int64)
    alpha = node_alpha(class_counts)
    membership = graph.membership_matrix().T.tocsr()  # points × nodes
    nodes_per_point = np.diff(membership.indptr)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = (membership @ alpha) / nodes_per_point
    covered = nodes_per_point > 0
    beta[~covered] = np.nan
    class_points = np.bincount(labels, minlength=n_classes)
    class_covered = np.bincount(labels[covered], minlength=n_classes)
    beta_sum = np.bincount(labels[covered], weights=beta[covered], minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma = np.where(class_covered > 0, beta_sum / np.maximum(class_covered, 1), np.nan)
    return Purity(node=alpha, point=beta, class_purity=gamma, class_points=class_points,
                  class_uncovered=class_points - class_covered)


def graph_purity(purity: Purity) -> dict:
    """Graph-level numbers: nodes, mean node purity α, mean point purity β over covered
    points (NaN when there is none), points in no node."""
    covered = ~np.isnan(purity.point)
    return {
        "nodes": len(purity.node),
        "node_purity": float(purity.node.mean()) if len(purity.node) else float("nan"),
        "point_purity": float(purity.point[covered].mean()) if covered.any() else float("nan"),
        "points_in_no_node": purity.uncovered,
    }


def defined_or_none(value: float) -> float | None:
    """A purity as JSON holds it: None for NaN (nothing to average), else a float."""
    return None if value is None or np.isnan(value) else float(value)


def purity_record(purity: Purity, classes: list[str]) -> dict:
    """Graph-level node, point and class purity as the explorer shows it (NaN, nothing to
    average, becomes None; classes with no point in a node are left out)."""
    summary = graph_purity(purity)
    defined = ~np.isnan(purity.class_purity)
    return {
        "node_purity": defined_or_none(summary["node_purity"]),
        "point_purity": defined_or_none(summary["point_purity"]),
        "class_purity_mean": float(purity.class_purity[defined].mean()) if defined.any() else None,
        "points_in_no_node": int(summary["points_in_no_node"]),
        "class_purity": {name: round(float(value), 4) for name, value, ok in
                         zip(classes, purity.class_purity, defined, strict=True) if ok},
    }


def purity_rows(purity: Purity, classes: list[str], keys: dict) -> list[dict]:
    """One table row per class, each with the graph-level means and ``keys`` in front."""
    graph_level = graph_purity(purity)
    return [{**keys, "class": name, "class_points": int(purity.class_points[k]),
             "class_points_in_no_node": int(purity.class_uncovered[k]),
             "class_purity": float(purity.class_purity[k]), **graph_level}
            for k, name in enumerate(classes)]
