"""The weight-space steps: a snapshot's filters as a points store; a dense core's graph,
barcode, node images and summary; a layer's X(k, p) sweep and its dynamics over
training (the trainings themselves: :mod:`topoact.steps.snapshots`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from PIL import Image

from topoact import store
from topoact.mapper import node_link, node_stats
from topoact.plots import plot_barcode_grid, plot_filter_graph, plot_weight_dynamics
from topoact.weights.filters import normalise_filters, spatial_filters
from topoact.weights.topology import (
    CoreTopology,
    core_topology,
    longest_bars,
    node_means,
)


def core_for_points(points_path, out: dict[str, str], *, k: int, keep: float, maxdim: int,
                    lens: str, intervals: int, overlap: float, min_samples: int, cover: str,
                    device: str = "cpu") -> CoreTopology:
    """One dense core of a weight cloud: its store, barcode, mapper graph and figures.

    ``out`` names the files: ``dense`` (zarr), ``barcode`` (npz), ``summary`` (JSON),
    ``graph`` (zarr), ``nodelink`` (JSON), ``plot`` (PNG) and ``nodes`` (folder of the
    node images with ``index.json``, for the explorer).
    """
    points, arrays, attrs = store.read_weight_points(points_path)
    topology = core_topology(points, k, keep, maxdim=maxdim, lens=lens, intervals=intervals,
                             overlap=overlap, min_samples=min_samples, cover=cover,
                             device=device)
    index, graph = topology.index, topology.graph
    seeds = [int(s) for s in attrs["seeds"]]
    seed_rank = store.training_rank(arrays["seed"][index], seeds)
    classes = [f"training {s}" for s in seeds]
    params = {"density_k": k, "keep": keep, "lens": lens, "intervals": intervals,
              "overlap": overlap, "min_samples": min_samples, "cover": cover}
    core_attrs = {**store.provenance(params, {"points": str(points_path)}, None),
                  **{key: attrs[key] for key in ("model", "layer", "snapshot", "kernel")},
                  "seeds": seeds, "points_before_filter": len(points)}
    store.write_weight_points(out["dense"], points[index], {
        **{name: values[index] for name, values in arrays.items()},
        "codensity": topology.codensity[index], "source_row": index}, core_attrs)
    np.savez(out["barcode"], *topology.diagrams)
    stats = node_stats(graph, points[index], seed_rank, len(seeds))
    node_density = node_means(graph, topology.codensity[index])
    graph_attrs = {**core_attrs, "classes": classes, "n_points": graph.n_points,
                   "epsilon": topology.epsilon,
                   "points_in_no_node": int((~graph.covered()).sum())}
    store.write_graph(out["graph"], graph, stats, graph_attrs)
    store.write_json(out["nodelink"], node_link(graph, stats, classes, graph_attrs))
    title = (f"{attrs['layer']} {attrs['snapshot']}: X({k}, {keep:.0%}), "
             f"{len(index)} filters, β1 = {topology.betti[1]} "
             f"(clique complex: {topology.clique_betti1})")
    plot_filter_graph(graph, stats.mean_activation, node_density, tuple(attrs["kernel"]),
                      out["plot"], title, stats.position)
    write_node_images(stats.mean_activation, tuple(attrs["kernel"]), out["nodes"])
    summary = {"model": attrs["model"], "layer": attrs["layer"], "snapshot": attrs["snapshot"],
               "density_k": k, "keep": keep, "filters": len(points), "core": len(index),
               "h0": longest_bars(topology.diagrams[0]),
               "h1": longest_bars(topology.diagrams[1]) if maxdim >= 1 else None,
               "epsilon": topology.epsilon, "nodes": graph.n_nodes, "edges": len(graph.edges),
               "components": topology.betti[0], "graph_betti1": topology.betti[1],
               "clique_betti1": topology.clique_betti1}
    store.write_json(out["summary"], summary, indent=2)
    return topology


def write_node_images(mean_filters: np.ndarray, shape: tuple[int, int], folder,
                      scale: int = 16) -> None:
    """Each node's mean filter as a grey PNG (``node-{id}.png``) with ``index.json``.

    Grey levels span each filter's own range (a filter's sign pattern is what it
    detects), magnified ``scale`` times with square pixels.
    """
    with store.atomic_directory(folder) as tmp:
        nodes = []
        for node, values in enumerate(np.asarray(mean_filters, dtype=np.float64)):
            grid = values.reshape(shape)
            span = np.ptp(grid)
            grey = (grid - grid.min()) / span if span > 0 else np.full(shape, 0.5)
            image = Image.fromarray((grey * 255).round().astype(np.uint8), mode="L")
            image = image.resize((shape[1] * scale, shape[0] * scale), Image.NEAREST)
            name = f"node-{node}.png"
            image.save(tmp / name)
            nodes.append({"id": node, "file": name})
        (tmp / "index.json").write_text(json.dumps({"nodes": nodes}))


def sweep_summary(summary_paths: Sequence[str], barcode_paths: dict[str, str], out_tsv,
                  plot_path, title: str = "") -> None:
    """The H1 table of every dense core of a layer and the sweep's barcodes side by side.

    ``barcode_paths`` maps a panel title (``X(15, 30%)``) to its barcode npz.
    """
    import pandas as pd  # here: every other weight-space job would pay its import

    rows = []
    for path in summary_paths:
        record = store.read_json(path)
        h1 = record["h1"] or {"longest": [], "ratio": float("nan"), "bars": 0}
        longest = h1["longest"] + [float("nan")] * (2 - len(h1["longest"][:2]))
        rows.append({"snapshot": record["snapshot"], "density_k": record["density_k"],
                     "keep": record["keep"], "filters": record["filters"],
                     "core": record["core"], "h1_bars": h1["bars"], "h1_longest": longest[0],
                     "h1_next": longest[1], "h1_ratio": h1["ratio"],
                     "graph_nodes": record["nodes"], "graph_edges": record["edges"],
                     "graph_components": record["components"],
                     "graph_betti1": record["graph_betti1"],
                     "clique_betti1": record["clique_betti1"], "epsilon": record["epsilon"]})
    store.write_tsv(pd.DataFrame(rows), out_tsv)
    panels = {name: load_barcode(path) for name, path in barcode_paths.items()}
    plot_barcode_grid(panels, plot_path, title)


def dynamics_for_layer(snapshots: dict[str, dict[str, str]], plot_path, title: str = "") -> None:
    """One strip figure: the mapper graph and barcode of a layer's dense core per snapshot.

    ``snapshots`` maps a snapshot label, in training order, to the files of its dense
    core (``graph``, ``dense``, ``barcode``, ``summary``, as :func:`core_for_points`
    names them).
    """
    columns = []
    for label, files in snapshots.items():
        graph, stats, attrs = store.read_graph(files["graph"])
        _, dense, _ = store.read_weight_points(files["dense"])
        density = node_means(graph, dense["codensity"])
        columns.append({"label": label, "graph": graph, "positions": stats.position,
                        "filters": stats.mean_activation,
                        "density": density, "kernel": tuple(attrs["kernel"]),
                        "diagrams": load_barcode(files["barcode"]),
                        "summary": store.read_json(files["summary"])})
    plot_weight_dynamics(columns, plot_path, title)


def load_barcode(path) -> list[np.ndarray]:
    """The diagrams (dimension 0, 1, ...) saved by :func:`core_for_points`."""
    with np.load(path) as saved:
        return [saved[f"arr_{d}"] for d in range(len(saved.files))]


def points_for_snapshot(snapshot_path, out_path, *, layer: str, slice_mode: str,
                        contrast_drop: float, contrast_norm: str, model: str,
                        initial_path=None) -> None:
    """Normalise one layer's filters of one snapshot (every training) into a points store.

    With ``initial_path`` (the step-0 snapshot of the same trainings) the points are the
    learned updates W − W₀ of each training instead of the weights W.
    """
    weights, attrs = store.read_weight_snapshot(snapshot_path, layer)
    sources = {"snapshot": str(snapshot_path)}
    if initial_path is not None:
        initial, initial_attrs = store.read_weight_snapshot(initial_path, layer)
        if initial_attrs["seeds"] != attrs["seeds"] or initial.shape != weights.shape:
            raise ValueError(f"{initial_path}: not the initialisation of the trainings of "
                             f"{snapshot_path} (seeds or shapes differ)")
        weights = weights - initial
        attrs = {**attrs, "snapshot": f"{attrs['snapshot']}-update"}
        sources["initial"] = str(initial_path)
    rows = []
    for number, seed in enumerate(attrs["seeds"]):
        filters, out_channel, in_channel = spatial_filters(weights[number], slice_mode, layer)
        rows.append((filters, np.full(len(filters), seed), out_channel, in_channel))
    filters, seed, out_channel, in_channel = (np.concatenate(c) for c in zip(*rows, strict=True))
    shape = tuple(int(v) for v in weights.shape[-2:])
    normalised = normalise_filters(filters, shape, contrast_drop, contrast_norm, layer)
    kept = normalised.kept
    store.write_weight_points(out_path, normalised.points, {
        "seed": seed[kept], "out_channel": out_channel[kept], "in_channel": in_channel[kept],
        "contrast": normalised.contrast[kept]},
        {**store.provenance({"slice": slice_mode, "contrast_drop": contrast_drop,
                             "contrast_norm": contrast_norm}, sources, None),
         "model": model, "layer": layer, "snapshot": attrs["snapshot"], "kernel": list(shape),
         "filters": len(filters), "contrast_cut": normalised.cut,
         "seeds": attrs["seeds"]})
