"""The purity steps: a graph's purity table and report figure, a run's purity summary
over layers, and purity against input noise."""

from __future__ import annotations

import os

import pandas as pd

from topoact import plots, store
from topoact.purity import defined_or_none, mapper_purity, purity_rows


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
        "node_purity": defined_or_none(first["node_purity"]),
        "point_purity": defined_or_none(first["point_purity"]),
        "class_purity_mean": float(defined["class_purity"].mean()) if len(defined) else None,
        "points_in_no_node": int(first["points_in_no_node"]),
        "class_purity": {str(name): round(float(value), 4) for name, value in
                         zip(defined["class"], defined["class_purity"], strict=True)},
    }


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
