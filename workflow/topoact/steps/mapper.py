"""The mapper steps: graphs of an activations store built and written (zarr store,
node-link and KeplerMapper JSON), alone or a grid in one engine pass, and a layer's
shared pass (``mapper.jobs: shared``): the first job of a layer builds every graph of
its grid into a validated cache (:mod:`topoact.passes`) and the others copy theirs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from topoact import passes, store
from topoact.devices import resolve_device, set_threads
from topoact.graph import EngineOptions, EngineStats, MapperGraph
from topoact.layout import graph_layouts
from topoact.mapper.build import build_mapper_grid
from topoact.mapper.exports import kmapper_json, known_classes, member_sums, node_link, node_stats
from topoact.names import grid_name


def mapper_for_store(points_path, graph_path, nodelink_path, kmapper_path, *, intervals: int,
                     overlap: float, eps: float, min_samples: int, cover: str,
                     attrs: dict[str, Any] | None = None, progress: bool = True,
                     device="cpu", tile: int | None = None, stats=None) -> MapperGraph:
    """Build one mapper graph from an activations store and write its three outputs.

    Writes the zarr graph (membership, node stats, edges), the node-link JSON the
    explorer reads and the KeplerMapper-style JSON.
    """
    output = GraphOutput(overlap, eps, graph_path, nodelink_path, kmapper_path, attrs or {})
    graphs = mapper_grid_for_store(points_path, [output], intervals=intervals,
                                   min_samples=min_samples, cover=cover, progress=progress,
                                   device=device, tile=tile, stats=stats)
    return graphs[0]


# A written graph's files: GraphOutput's field for each, and its suffix on one base path.
GRAPH_FILES = {"graph_path": ".zarr", "nodelink_path": ".json", "kmapper_path": ".kmapper.json"}


@dataclass(frozen=True)
class GraphOutput:
    """One graph of a grid and the three files it is written to."""

    overlap: float
    eps: float
    graph_path: Any
    nodelink_path: Any
    kmapper_path: Any
    attrs: dict[str, Any]

    def files(self) -> list[Any]:
        """The graph's three files, in :data:`GRAPH_FILES`' order."""
        return [getattr(self, field) for field in GRAPH_FILES]


def graph_files(base) -> list[Path]:
    """The three files of the graph at ``base`` (a path without suffix): its store, its
    node-link JSON and its KeplerMapper JSON."""
    return [Path(f"{base}{suffix}") for suffix in GRAPH_FILES.values()]


def mapper_grid_for_store(points_path, outputs: list[GraphOutput], *, intervals: int,
                          min_samples: int, cover: str, progress: bool = True,
                          device="cpu", tile: int | None = None, stats=None,
                          threads: int | None = None) -> list[MapperGraph]:
    """Build several graphs of one activations store in one engine pass and write each.

    The graphs share the engine's distance tiles (:func:`build_mapper_grid` over their
    overlaps × ε); each is written as :func:`mapper_for_store` writes one. ``device``
    may be ``auto`` (see :func:`topoact.devices.resolve_device`); ``threads``, when
    given, sets torch's thread count first (the engine's CPU workers) and lays the graphs
    out in as many processes.

    Returns
    -------
    list of MapperGraph
        In the order of ``outputs``.
    """
    if threads is not None:
        set_threads(threads)
    device = resolve_device(device)
    points, labels, classes = store.load_points(points_path)
    labels, classes = known_classes(labels, classes, len(points))
    overlaps = list(dict.fromkeys(o.overlap for o in outputs))
    epsilons = list(dict.fromkeys(o.eps for o in outputs))
    grid = build_mapper_grid(points, intervals, overlaps, epsilons, min_samples, cover,
                             engine=EngineOptions(device=device, tile=tile, progress=progress,
                                                  stats=stats))
    graphs = [grid[output.overlap, output.eps] for output in outputs]
    write_graphs(points_path, outputs, graphs, points, labels, classes, threads or 1)
    return graphs


def write_graphs(points_path, outputs: list[GraphOutput], graphs: list[MapperGraph],
                 points: np.ndarray | None, labels: np.ndarray, classes: list[str],
                 workers: int = 1) -> None:
    """Write each graph to its output's three files, laid out in ``workers`` processes.

    ``points`` None: the nodes' mean activations are summed from the store at
    ``points_path`` a block of rows at a time, every graph in one pass (a cloud larger
    than memory: :mod:`topoact.shards`), equal to the sums over the points in memory.
    """
    positions = graph_layouts([g.n_nodes for g in graphs], [g.edges for g in graphs],
                              [g.jaccard for g in graphs], workers=workers)
    sums = [None] * len(graphs)
    if points is None and graphs:
        stacked = sparse.vstack([g.membership_matrix() for g in graphs], format="csr")
        sums = np.split(member_sums(stacked, store.activation_chunks(points_path)),
                        np.cumsum([g.n_nodes for g in graphs])[:-1])
    for output, graph, position, summed in zip(outputs, graphs, positions, sums, strict=True):
        stats_table = node_stats(graph, points, labels, len(classes), position, summed)
        meta = {"source": str(points_path), **output.attrs}
        store.write_graph(output.graph_path, graph, stats_table, {**store.provenance(
            {**graph.params}, {"points": str(points_path)}, None), **meta,
            "classes": classes, "n_points": graph.n_points,
            "points_in_no_node": int((~graph.covered()).sum())})
        store.write_json(output.nodelink_path, node_link(graph, stats_table, classes, meta))
        store.write_json(output.kmapper_path, kmapper_json(graph, meta))


def layer_graphs(attrs: dict[str, Any], grid: list[tuple[float, str]], fixed_epsilon: float,
                 adaptive_epsilon_path, cover: str) -> list[GraphOutput]:
    """The graphs of a layer's grid (``(overlap percent, ε mode)`` pairs, see
    :func:`~topoact.names.grid_parameters`), named as the workflow names them, without
    output paths; ``attrs``: the layer's attributes. The adaptive graphs' ε is None while
    its estimate is not written (or the grid has none: ``adaptive_epsilon_path`` None)."""
    eps = {"fixed": fixed_epsilon, "adaptive": None}
    if adaptive_epsilon_path and Path(adaptive_epsilon_path).exists():
        eps["adaptive"] = store.read_epsilon(adaptive_epsilon_path)
    return [GraphOutput(overlap / 100, eps[mode], None, None, None,
                        {"name": grid_name(overlap, mode, cover), **attrs})
            for overlap, mode in grid]


def shared_grid_graph(points_path, cache, graph: GraphOutput, layer: list[GraphOutput], *,
                      intervals: int, min_samples: int, cover: str, device: str = "cpu",
                      tile: int | None = None, threads: int = 1,
                      report: Callable[[str, Path], None] | None = None,
                      files: dict[str, Any] | None = None
                      ) -> tuple[list[str], EngineStats | None]:
    """Write one graph from its layer's shared pass (``mapper.jobs: shared``).

    The first job of a layer to need a graph builds every graph of ``layer`` (and
    ``graph``) in one engine pass into ``cache``; the layer's other jobs then copy theirs
    (:func:`topoact.passes.copy_from_pass`, which loads no engine). A graph is taken from
    the cache only when the pass read this very cloud (path, size, modification time,
    inode) and built it with these parameters. A pass builds only what the cache lacks,
    and only the graphs whose ε is known: while the layer's adaptive ε is still to come
    (its job runs beside the fixed-ε graphs' on a machine with cores to spare), the first
    fixed-ε job builds the fixed-ε graphs, and the first adaptive job later adds the
    adaptive ones. Each job keeps its own inputs and parameters, so Snakemake reruns
    exactly the graphs whose inputs changed; the cache is an outcome of those runs, not a
    DAG input.

    Parameters
    ----------
    report
        Called as ``report(name, base)`` for each graph the pass builds, to write more of
        its files beside ``{base}.zarr`` in the cache (the workflow: its purity table and
        figure, so that the jobs that copy need neither pandas nor matplotlib).
    files
        Suffix in the cache → path to copy it to (default: the graph's three files;
        with ``report``, add the files it writes).

    Returns
    -------
    built, stats
        The names of the graphs this call's pass built, and the engine's counters; an
        empty list and None when the graph was copied from the cache.
    """
    cache = Path(cache)
    name = graph.attrs["name"]
    settings = {"intervals": intervals, "min_samples": min_samples, "cover": cover,
                "device": device, "tile": tile, "threads": threads}
    files = files or dict(zip(GRAPH_FILES.values(), graph.files(), strict=True))
    with passes.layer_lock(cache):
        source = passes.cloud_source(points_path)
        index = passes.pass_index(cache, source)
        built, stats = [], None
        if passes.pass_entry(index, name) != _pass_params(graph, settings, report):
            stats = EngineStats()
            built = _build_shared_pass(points_path, cache, index, [graph, *layer], source,
                                       stats, settings, report)
        for suffix, target in files.items():
            store.copy_output(cache / f"{name}{suffix}", target)
    return built, stats


def _pass_params(graph: GraphOutput, settings: dict[str, Any], report) -> dict[str, Any]:
    """The entry of a graph built by the pass (:func:`topoact.passes.graph_entry`)."""
    return passes.graph_entry(graph.overlap, graph.eps, settings["intervals"],
                              settings["min_samples"], settings["cover"],
                              report=report is not None)


def _build_shared_pass(points_path, cache: Path, index: dict[str, Any] | None,
                       graphs: list[GraphOutput], source: dict, stats: EngineStats,
                       settings: dict[str, Any], report) -> list[str]:
    """Add to a layer's cache, in one engine pass, the graphs of ``graphs`` it lacks whose
    ε is known (all of them when ``index``, the cache's from
    :func:`~topoact.passes.pass_index`, is None: the cache was made from another cloud),
    with each one's ``report`` files, then their entries to its index; graphs no longer
    in the layer leave the cache. Returns the names of the graphs built."""
    if index is None:
        passes.clear_layer_cache(cache)
    entries = index["graphs"] if index else {}
    missing = {g.attrs["name"]: g for g in graphs if g.eps is not None
               and entries.get(g.attrs["name"]) != _pass_params(g, settings, report)}
    layer_names = {g.attrs["name"] for g in graphs}
    kept = {n: params for n, params in entries.items()
            if n in layer_names and n not in missing}
    # The index first loses the entries about to be rewritten or dropped: a pass cut
    # short leaves no entry that names a half-written file.
    passes.write_index(cache, source, kept)
    for name in set(entries) - layer_names:
        for old in cache.glob(f"{name}.*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    outputs = [replace(g, **dict(zip(GRAPH_FILES, graph_files(cache / n), strict=True)))
               for n, g in missing.items()]
    mapper_grid_for_store(points_path, outputs, stats=stats, **settings)
    for name in missing if report else ():
        report(name, cache / name)
    passes.write_index(cache, source, {**kept, **{
        n: _pass_params(g, settings, report) for n, g in missing.items()}})
    return list(missing)
