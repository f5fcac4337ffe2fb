"""Mapper purity measures of Purvine et al. (2023), "Mapper Graph Purity Measures".

- node-wise α_i = 1 / (number of distinct class labels in node i);
- point-wise β_x = mean of α_i over the nodes containing x (points in no node have none);
- class-wise γ_k = mean of β_x over the points of class k that lie in some node.

Points in no node are counted per class and reported beside γ, never silently dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from topoact import plots, store
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


def _number(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def purity_record(purity: Purity, classes: list[str]) -> dict:
    """Graph-level node, point and class purity as the explorer shows it (NaN, nothing to
    average, becomes None; classes with no point in a node are left out)."""
    summary = graph_purity(purity)
    defined = ~np.isnan(purity.class_purity)
    return {
        "node_purity": _number(summary["node_purity"]),
        "point_purity": _number(summary["point_purity"]),
        "class_purity_mean": float(purity.class_purity[defined].mean()) if defined.any() else None,
        "points_in_no_node": int(summary["points_in_no_node"]),
        "class_purity": {name: round(float(value), 4) for name, value, ok in
                         zip(classes, purity.class_purity, defined, strict=True) if ok},
    }


def read_purity_record(path: str | os.PathLike) -> dict:
    """:func:`purity_record` of a graph from its table (``{graph}.purity.tsv``, one row
    per class, written by :func:`purity_table_for_graph`)."""
    table = pd.read_csv(path, sep="\t", dtype={"class": str, "overlap": str})
    if table.empty or not {"class", "class_purity", "node_purity"} <= set(table.columns):
        raise store.StoreError(f"{path}: not a graph's purity table (expected one row per "
                               "class with class_purity and node_purity)")
    first = table.iloc[0]
    defined = table[table["class_purity"].notna()]
    return {
        "node_purity": _number(first["node_purity"]),
        "point_purity": _number(first["point_purity"]),
        "class_purity_mean": float(defined["class_purity"].mean()) if len(defined) else None,
        "points_in_no_node": int(first["points_in_no_node"]),
        "class_purity": {str(name): round(float(value), 4) for name, value in
                         zip(defined["class"], defined["class_purity"], strict=True)},
    }


def purity_rows(purity: Purity, classes: list[str], keys: dict) -> list[dict]:
    """One table row per class, each with the graph-level means and ``keys`` in front."""
    graph_level = graph_purity(purity)
    return [{**keys, "class": name, "class_points": int(purity.class_points[k]),
             "class_points_in_no_node": int(purity.class_uncovered[k]),
             "class_purity": float(purity.class_purity[k]), **graph_level}
            for k, name in enumerate(classes)]


def purity_table_for_graph(graph_path, points_path, keys: dict):
    """Purity rows (a pandas DataFrame) of one graph store, labels from its activations."""
    graph, stats, attrs = store.read_graph(graph_path)
    labels = store.open_store(points_path, "activations")["label"][:]
    if len(labels) != graph.n_points:
        raise store.StoreError(f"{points_path}: {len(labels)} labels, but graph {graph_path} "
                               f"was built on {graph.n_points} points")
    classes = list(attrs["classes"])
    purity = mapper_purity(graph, stats.class_counts, labels, len(classes))
    keys = {**keys, "epsilon_value": graph.params["eps"], "edges": len(graph.edges)}
    return pd.DataFrame(purity_rows(purity, classes, keys))


def write_graph_report(graph_path, points_path, purity_path, figure_path, keys: dict) -> None:
    """A graph's purity table and figure, written by the job that built the graph.

    Both read only the graph and its cloud's labels, the same job's inputs, so they rerun
    exactly when the graph does; one job instead of three saves two process start-ups
    per graph.

    Parameters
    ----------
    keys
        The table's identifying columns: dataset, model, seed, sampling, layer, overlap,
        epsilon, parameters (the figure's title is made from them).
    """
    store.write_tsv(purity_table_for_graph(graph_path, points_path, keys), purity_path)
    title = " · ".join([f"{keys['model']} seed {keys['seed']}", keys["layer"],
                        keys["sampling"], keys["parameters"]])
    plots.draw_graph_store(graph_path, figure_path, title=title)


def summarise_purity(tsv_paths, out_tsv, node_plot, class_plot, layer_order: list[str]) -> None:
    """Concatenate per-graph purity tables; plot node- and class-wise purity by layer."""
    table = pd.concat([pd.read_csv(p, sep="\t", dtype={"class": str, "overlap": str})
                       for p in tsv_paths], ignore_index=True)
    table = table.sort_values(["sampling", "parameters", "layer", "class"], kind="stable")
    store.write_tsv(table, out_tsv)
    graphs = table.drop_duplicates(["sampling", "parameters", "layer"])
    plots.plot_purity_by_layer(graphs, "node_purity", node_plot, layer_order,
                               "node-wise purity (mean α)",
                               "Node-wise purity against depth (mean over nodes)")
    plots.plot_purity_by_layer(table.dropna(subset=["class_purity"]), "class_purity",
                               class_plot, layer_order, "class-wise purity γ",
                               "Class-wise purity against depth (mean over classes, "
                               "min–max shaded)")


def purity_by_noise(tables: dict[float, str], out_tsv, out_plot, layer_order: list[str]):
    """Purity of the clean dataset (σ = 0) beside its noisy variants (Purvine et al.
    Figs. 10–11): one table with a ``noise_sigma`` column, and node-wise purity against
    depth, one line per σ, one panel per sampling (shaded: min–max over the grid)."""
    parts = []
    for sigma, path in sorted(tables.items()):
        part = pd.read_csv(path, sep="\t", dtype={"class": str, "overlap": str})
        part.insert(0, "noise_sigma", float(sigma))
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    store.write_tsv(table, out_tsv)
    graphs = table.drop_duplicates(["noise_sigma", "sampling", "parameters", "layer"])
    shown = graphs.assign(parameters=graphs["sampling"] + " sampling",
                          sampling=graphs["noise_sigma"].map(lambda s: f"σ = {s:g}"))
    plots.plot_purity_by_layer(shown, "node_purity", out_plot, layer_order,
                               "node-wise purity (mean α)",
                               "Node purity under input noise\n"
                               "(mean over the grid, min–max shaded)", legend="input noise")
    return table
