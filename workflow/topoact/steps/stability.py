"""The stability steps: a graph store's extended persistence and bootstrap record and
figure (alone, or through its layer's shared pass), and the distances between a layer's
grid of graph stores and between clean and noisy graphs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from topoact import passes, plots, store
from topoact.devices import resolve_device, set_threads
from topoact.graph import EngineOptions
from topoact.stability import (
    DISTANCE_COLUMNS,
    GraphComparison,
    Stability,
    compare_graphs,
    compare_to_reference,
    feature_table,
    graph_stability,
    stability_record,
)

# A graph's stability files: StabilityOutput's field for each, and its suffix in a cache.
STABILITY_FILES = {"features": ".tsv", "record": ".json", "plot": ".png"}


# Clouds up to this many points share their layer's pass: there one graph's resamples
# take less than a job's start-up (its imports with torch), and the layer's other jobs
# wait only seconds for the pass. A larger cloud's graphs are each done by their own job,
# side by side.
SHARED_PASS_MAX_POINTS = 5_000


def stability_for_store(graph_path, points_path, *, bootstrap: int, confidence: float,
                        seed: int = 0, meta: dict[str, Any] | None = None,
                        device: str = "cpu", tile: int | None = None,
                        progress: bool = True, log=None) -> tuple[Stability, dict[str, Any]]:
    """:func:`graph_stability` of a graph store and the cloud it was built on, with the
    JSON record to write (``meta`` and the graph's size added). A graph without nodes gets
    an empty table and a line in ``log``."""
    graph, _, attrs = store.read_graph(graph_path)
    points = store.load_points(points_path)[0]
    if graph.n_nodes == 0:
        print(f"{graph_path}: the graph has no nodes, so it has no features and no "
              "bootstrap; its table is empty", file=log)
    result = graph_stability(graph, points, bootstrap, confidence, seed,
                             engine=EngineOptions(device=device, tile=tile, progress=progress))
    record = stability_record(result, {
        **(meta or {}), "graph": str(graph_path), "points": str(points_path),
        "name": attrs.get("name"), "nodes": graph.n_nodes, "edges": int(len(graph.edges)),
        "n_points": graph.n_points})
    return result, record


@dataclass(frozen=True)
class StabilityOutput:
    """One graph's stability job: its graph store, the features TSV, JSON record and
    figure it writes, and the record's ``meta`` (dataset, model, seed, sampling, layer,
    parameters: the figure's title too)."""

    graph: str
    features: str | Path | None
    record: str | Path | None
    plot: str | Path | None
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        """The graph's parameter-set name."""
        return self.meta["parameters"]

    def title(self) -> str:
        """The figure's title."""
        m = self.meta
        return f"{m['model']} seed {m['seed']} · {m['layer']} · {m['sampling']} · {m['parameters']}"


def write_graph_stability(output: StabilityOutput, points_path, *, bootstrap: int,
                          confidence: float, seed: int = 0, device: str = "cpu",
                          tile: int | None = None, threads: int = 1, log=None
                          ) -> dict[str, Any]:
    """:func:`stability_for_store` of one graph with ``threads`` torch threads, written:
    its features TSV, JSON record and extended-diagram figure. Returns the record."""
    set_threads(threads)  # here, not before: a job that copies its files loads no torch
    result, record = stability_for_store(
        output.graph, points_path, bootstrap=bootstrap, confidence=confidence, seed=seed,
        meta=output.meta, device=resolve_device(device), tile=tile, log=log)
    table = feature_table(result)
    store.write_tsv(table, output.features)
    store.write_json(output.record, record)
    plots.plot_extended_diagram(table, result.distances, result.d_alpha, confidence,
                                output.plot, title=output.title())
    return record


def layer_outputs(job: StabilityOutput, names: list[str]) -> list[StabilityOutput]:
    """The stability jobs of ``job``'s layer, without output paths: the graphs named
    ``names`` (parameter sets) beside ``job``'s graph, one folder per parameter set as the
    workflow lays them out (``…/{parameters}/{layer}.zarr``)."""
    graph = Path(job.graph)
    return [StabilityOutput(str(graph.parent.parent / name / graph.name), None, None, None,
                            {**job.meta, "parameters": name}) for name in names]


def shared_graph_stability(points_path, cache, job: StabilityOutput,
                           layer: list[StabilityOutput], *, bootstrap: int,
                           confidence: float, seed: int = 0, device: str = "cpu",
                           tile: int | None = None, threads: int = 1, log=None) -> str:
    """Write one graph's stability from its layer's shared pass.

    As the mapper's (:func:`topoact.steps.mapper.shared_grid_graph`): the first job of a layer
    computes the stability of every graph of ``layer`` whose store exists (and of
    ``job``'s) into ``cache``; the layer's other jobs copy their files (the workflow's
    jobs try :func:`topoact.passes.copy_from_pass` first, which loads nothing heavy). An
    entry is copied only when the pass read this very cloud and this very graph store
    (path, size, modification time, inode of each) with these settings; otherwise the
    pass runs again. Clouds above :data:`SHARED_PASS_MAX_POINTS` points, and every cloud
    when ``cache`` is None, are done alone.

    Returns
    -------
    str
        ``"copied"``, ``"pass"`` (this call ran the layer's pass) or ``"alone"``.
    """
    compute = {"bootstrap": int(bootstrap), "confidence": float(confidence),
               "seed": int(seed), "device": device, "tile": tile, "threads": threads,
               "log": log}
    # The graph's point count from its lens array's shape: the store is read whole later.
    n_points = store.open_store(job.graph, "mapper")["lens"].shape[0]
    if cache is None or n_points > SHARED_PASS_MAX_POINTS:
        write_graph_stability(job, points_path, **compute)
        return "alone"
    cache = Path(cache)
    with passes.layer_lock(cache):
        source = passes.stability_source(points_path, bootstrap, confidence, seed)
        how = "copied"
        if passes.pass_entry(passes.pass_index(cache, source), job.name) != _entry(job):
            how = "pass"
            _build_stability_pass(points_path, cache, job, layer, source, compute)
        cached = _in_cache(job, cache)
        for field in STABILITY_FILES:
            store.copy_output(getattr(cached, field), getattr(job, field))
    return how


def _in_cache(output: StabilityOutput, cache: Path) -> StabilityOutput:
    """``output`` with its files in the layer's pass cache, named by its parameter set."""
    return replace(output, **{field: cache / f"{output.name}{suffix}"
                              for field, suffix in STABILITY_FILES.items()})


def _entry(output: StabilityOutput) -> dict[str, Any]:
    """What a cache entry must match (:func:`topoact.passes.stability_entry`)."""
    return passes.stability_entry(output.graph, output.meta)


def _build_stability_pass(points_path, cache: Path, job: StabilityOutput,
                          layer: list[StabilityOutput], source: dict, compute: dict) -> None:
    """Replace a layer's cache by the stability of ``job``'s graph and of every graph of
    ``layer`` whose store can be read, then write the index."""
    passes.clear_layer_cache(cache)
    entries = {}
    for output in {o.name: o for o in [*layer, job]}.values():
        if output is not job and not (Path(output.graph) / "zarr.json").exists():
            continue  # a graph of the layer not built yet: its own job will do it
        entry = _entry(output)  # before reading: a store replaced meanwhile reads as stale
        try:
            write_graph_stability(_in_cache(output, cache), points_path, **compute)
        except store.StoreError as error:
            if output is job:
                raise
            print(f"the layer's pass left out {output.graph}: {error}", file=compute["log"])
            continue
        entries[output.name] = entry
    passes.write_index(cache, source, entries)


def compare_graph_stores(paths: dict[str, Any]) -> GraphComparison:
    """:func:`compare_graphs` of named graph stores (e.g. a layer's grid)."""
    return compare_graphs({name: store.read_graph(path)[0] for name, path in paths.items()})


def read_distance_tables(paths: list[Any]) -> pd.DataFrame:
    """The grid-distance tables of several layers as one (empty, with its columns, for
    none)."""
    tables = [pd.read_csv(path, sep="\t") for path in paths]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=DISTANCE_COLUMNS)


def noise_distances(pairs: list[dict[str, Any]]) -> pd.DataFrame:
    """How far noisy graphs are from their clean graph: ``pairs`` of sampling, layer,
    parameters, sigma, clean (graph store) and noisy (graph store); rows of the same
    with bottleneck distance and membership similarity. Point i of a noisy cloud is point
    i of the clean one (the same image and position), so membership compares."""
    rows = []
    by_clean: dict[str, list[dict[str, Any]]] = {}
    for pair in pairs:
        by_clean.setdefault(str(pair["clean"]), []).append(pair)
    for clean, group in by_clean.items():
        noisy = {str(p["noisy"]): store.read_graph(p["noisy"])[0] for p in group}
        found = compare_to_reference(store.read_graph(clean)[0], noisy)
        for pair, distance in zip(group, found, strict=True):
            rows.append({key: pair[key] for key in ("sampling", "layer", "parameters", "sigma")}
                        | {"bottleneck": distance["bottleneck"],
                           "similarity": distance["similarity"]})
    return pd.DataFrame(rows, columns=["sampling", "layer", "parameters", "sigma",
                                       "bottleneck", "similarity"])
