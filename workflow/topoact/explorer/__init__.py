"""The explorer: a static, offline, TopoAct-style web view of every mapper graph (TopoAct §5).

:func:`build_explorer` writes ``index.html`` with its script and style beside it, one
JavaScript data file per graph (``data/graph-{i}.js``; script files, not JSON fetched at
run time, because browsers refuse ``fetch`` on ``file://``), and the activation images and
input thumbnails the graphs show (``images/``, hard-linked where possible). Each graph is
drawn at the layout stored with it (the one its PNG shows), so the page only draws.

Class names are data: the page sets them with ``textContent`` only, never as HTML.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from tqdm.auto import tqdm

from topoact import store
from topoact.explorer.pages import render_page
from topoact.explorer.profile_pages import ProfileSource, write_profile_pages
from topoact.mapper import top_classes
from topoact.names import NOISE
from topoact.purity import mapper_purity, node_alpha, purity_record
from topoact.steps.purity import read_purity_record

ASSETS = Path(__file__).parent / "assets"
ASSET_FILES = ("explorer.js", "explorer.css")  # beside index.html, rendered (explorer.pages)


@dataclass(frozen=True)
class GraphSource:
    """One mapper graph and the files the explorer shows with it.

    Attributes
    ----------
    dataset, model, seed, sampling, layer, parameters
        Where the graph sits in the grid (``parameters`` e.g. ``overlap-30-epsilon-adaptive``).
    graph
        The graph's zarr store.
    points
        Its activations store (labels for purity; image of every point, for the links
        between layers).
    node_images
        Folder of its node-average images (``index.json``), or None.
    examples
        ``(selection JSON, rendered examples folder)`` of its layer, or None.
    run_name
        The run's name when it is not a (dataset, model, seed), e.g. ``weights/digits-cnn``
        for the weight-space graphs (whose ``points`` is a weights store).
    stability
        The graph's stability record (JSON of the stability stage), or None.
    purity
        The graph's purity table (``{graph}.purity.tsv`` of the purity stage), or None
        (then the purity is computed from the points' labels).
    """

    dataset: str
    model: str
    seed: int
    sampling: str
    layer: str
    parameters: str
    graph: str
    points: str
    node_images: str | None = None
    examples: tuple[str, str] | None = None
    run_name: str | None = None
    stability: str | None = None
    purity: str | None = None

    @property
    def run(self) -> str:
        """The run the page groups the graph under (default ``dataset/model/seed-S``)."""
        return self.run_name or f"{self.dataset}/{self.model}/seed-{self.seed}"


def _place(source: Path, target: Path) -> None:
    """Hard-link (or copy) a file into the explorer folder, once (graphs share examples)."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def node_image_sets(graph, image_of_point: np.ndarray) -> sparse.csr_matrix:
    """Binary (nodes × images) matrix: which input images each node's points come from."""
    membership = graph.membership_matrix().tocoo()
    images = np.asarray(image_of_point, dtype=np.int64)[membership.col]
    n_images = int(image_of_point.max()) + 1 if len(image_of_point) else 0
    matrix = sparse.csr_matrix((np.ones(len(images), np.int32), (membership.row, images)),
                               shape=(graph.n_nodes, n_images))
    matrix.data[:] = 1  # duplicates (several positions of one image) count once
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def shared_image_links(a: sparse.csr_matrix, b: sparse.csr_matrix, per_node: int = 5
                       ) -> list[list]:
    """``[node in a, node in b, shared images, Jaccard]`` for node pairs of adjacent layers.

    The Jaccard index is of the two nodes' image sets (shared / union), so that a link of
    two large nodes is not stronger for their size alone; the page draws by default each
    node's strongest link where it is also its partner's. Keeps each node's ``per_node``
    strongest links (by shared count) on either side, so the file stays small.
    """
    width = max(a.shape[1], b.shape[1])
    a = sparse.csr_matrix(a, shape=(a.shape[0], width)) if a.shape[1] < width else a
    b = sparse.csr_matrix(b, shape=(b.shape[0], width)) if b.shape[1] < width else b
    shared = (a @ b.T).tocoo()
    if shared.nnz == 0:
        return []
    order = np.lexsort((shared.col, shared.row, -shared.data))
    rows, cols, counts = shared.row[order], shared.col[order], shared.data[order]
    keep = np.zeros(len(order), dtype=bool)
    seen_a: dict[int, int] = {}
    seen_b: dict[int, int] = {}
    for k, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        if seen_a.get(r, 0) < per_node or seen_b.get(c, 0) < per_node:
            keep[k] = True
            seen_a[r] = seen_a.get(r, 0) + 1
            seen_b[c] = seen_b.get(c, 0) + 1
    rows, cols, counts = rows[keep], cols[keep], counts[keep]
    sizes_a, sizes_b = np.asarray(a.sum(axis=1)).ravel(), np.asarray(b.sum(axis=1)).ravel()
    jaccard = counts / (sizes_a[rows] + sizes_b[cols] - counts)
    return [[int(r), int(c), int(n), round(float(j), 4)]
            for r, c, n, j in zip(rows, cols, counts, jaccard, strict=True)]


def graph_view(graph, stats, classes: list[str], purity: dict[str, Any],
               node_files: dict[int, str] | None = None, examples: list | None = None
               ) -> dict[str, Any]:
    """What the page draws of one graph: nodes (position, size, mean lens, purity, top
    classes, pie, image, data examples), links and the purity summary (``purity``, a
    :func:`~topoact.purity.purity_record`). The static explorer and the live server
    (:mod:`topoact.serve`) both send this.

    Raises
    ------
    ValueError
        For a graph stored without its layout (written before layouts were stored).
    """
    if stats.position is None:
        raise ValueError("the graph store has no layout ('position'): it was written by an "
                         "older version; rebuild it (snakemake reruns build_mapper)")
    positions = stats.position  # the layout the PNG shows
    order, percents = top_classes(stats.class_counts, 3)
    alpha = node_alpha(stats.class_counts)
    node_files = node_files or {}
    nodes = []
    for node in range(graph.n_nodes):
        counts = stats.class_counts[node]
        pie_classes = np.argsort(-counts, kind="stable")[:8]
        pie = [[int(c), int(counts[c])] for c in pie_classes if counts[c] > 0]
        other = int(counts.sum() - sum(n for _, n in pie))
        nodes.append({
            "id": node, "x": round(float(positions[node, 0]), 5),
            "y": round(float(positions[node, 1]), 5), "size": int(stats.size[node]),
            "lens": round(float(np.ravel(stats.mean_lens[node])[0]), 5),  # 2-D: first
            "purity": round(float(alpha[node]), 5),
            "top": [[int(c), round(float(p), 2), int(counts[c])]
                    for c, p in zip(order[node], percents[node], strict=True) if c >= 0],
            "pie": pie + ([[-1, other]] if other else []),
            "image": node_files.get(node),
            "examples": examples[node] if examples else [],
        })
    links = [[int(s), int(t), round(float(j), 5), int(i)]
             for (s, t), j, i in zip(graph.edges, graph.jaccard, graph.intersection, strict=True)]
    return {"lens": graph.params.get("lens", "l2"), "classes": classes,
            "n_points": graph.n_points, "epsilon": float(graph.params.get("eps", 0.0)),
            "nodes": nodes, "links": links,
            "purity": purity}


def graph_payload(source: GraphSource, out_dir: Path, image_prefix: str
                  ) -> tuple[dict[str, Any], sparse.csr_matrix]:
    """Everything the page shows of one graph (:func:`graph_view`, where it sits, its
    stability), and its nodes' image sets (for the links between adjacent layers)."""
    graph, stats, attrs = store.read_graph(source.graph)
    image_of_point, labels = store.point_sources(source.points)
    if len(image_of_point) != graph.n_points:
        raise ValueError(f"{source.points}: {len(image_of_point)} points, but graph "
                         f"{source.graph} was built on {graph.n_points}")
    classes = [str(c) for c in attrs.get("classes", [])]
    if source.purity:  # what the purity stage wrote
        purity = read_purity_record(source.purity)
    else:  # the weight-space graphs have no purity stage
        purity = purity_record(mapper_purity(graph, stats.class_counts, labels, len(classes)),
                               classes)
    view = graph_view(graph, stats, classes, purity,
                      _node_image_files(source, out_dir, image_prefix),
                      _node_examples(source, out_dir, image_prefix))
    payload = {"dataset": source.dataset, "model": source.model, "seed": source.seed,
               "run": source.run, "sampling": source.sampling, "layer": source.layer,
               "parameters": source.parameters, **view,
               "stability": _significant_features(source)}
    return payload, node_image_sets(graph, image_of_point)


def _significant_features(source: GraphSource) -> dict[str, Any] | None:
    """The graph's d_α and its significant features with their nodes, from its record."""
    if source.stability is None:
        return None

    record = store.read_json(source.stability)
    features = [{key: feature[key] for key in ("kind", "birth", "death", "confidence", "nodes")}
                for feature in record["features"] if feature["significant"]]
    return {"d_alpha": record["d_alpha"], "confidence": record["confidence"],
            "bootstrap": record["bootstrap"], "features": features,
            "total": record["n_features"]}


def _node_image_files(source: GraphSource, out_dir: Path, prefix: str) -> dict[int, str]:
    if source.node_images is None:
        return {}

    folder = Path(source.node_images)
    index = store.read_json(folder / "index.json")
    target = f"{prefix}/{source.parameters}/{source.layer}"
    files = {}
    for node in index["nodes"]:
        _place(folder / node["file"], out_dir / target / node["file"])
        files[int(node["id"])] = f"{target}/{node['file']}"
    return files


def _node_examples(source: GraphSource, out_dir: Path, prefix: str) -> list | None:
    """Per node: ``[class, [[input image, activation image], ...]]`` for its top classes."""
    if source.examples is None:
        return None

    selection_path, folder = source.examples
    selection = store.read_json(selection_path)["graphs"].get(source.parameters)
    if selection is None:
        raise ValueError(f"{selection_path}: no data examples for {source.parameters}")
    rendered = store.read_json(Path(folder) / "index.json")
    by_point = {entry["point"]: entry for entry in rendered["examples"]}
    target = f"{prefix}/examples/{source.layer}"
    nodes = []
    for node_examples in selection:
        rows = []
        for example in node_examples:
            items = []
            for point in example["points"]:
                entry = by_point.get(point)
                if entry is None:
                    raise ValueError(f"{folder}: point {point} of the selection was not rendered")
                for name in (entry["input"], entry["activation"]):
                    _place(Path(folder) / name, out_dir / target / name)
                items.append([f"{target}/{entry['input']}", f"{target}/{entry['activation']}"])
            rows.append([int(example["class"]), items])
        nodes.append(rows)
    return nodes


def _script(variable: str, key: str | None, payload: Any) -> str:
    """A data file the page loads with a <script> tag (JSON, ASCII-escaped)."""
    body = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    if key is None:
        return f"window.{variable} = {body};\n"
    return (f"window.{variable} = window.{variable} || {{}};\n"
            f"window.{variable}[{json.dumps(key)}] = {body};\n")


def images_note(samplings: Sequence[str], graphs: str, opening: str | None) -> str:
    """What the page says on a graph without activation images: which graphs have them
    and the config key that renders the others (``featurevis.samplings``, ``.graphs``)."""
    if not samplings:
        return ("No graph has activation images: list samplings in featurevis.samplings "
                "to render them.")
    which = ", ".join(samplings)
    if graphs == "all":
        return (f"Activation images are rendered for every graph of the {which} sampling; "
                "add this graph's sampling to featurevis.samplings to render its images.")
    return (f"Activation images are rendered for the {opening} graphs of the {which} "
            "sampling (featurevis.graphs: opening); featurevis.graphs: all renders every "
            "graph's, and featurevis.samplings chooses the samplings.")


def site_sizes(site: str | os.PathLike) -> dict[str, int]:
    """Bytes of an explorer folder: in all, its graph data files (each loaded only when its
    graph is first shown), the largest of them, and its images (loaded when drawn)."""
    site = Path(site)
    graphs = [p.stat().st_size for p in (site / "data").glob("graph-*.js")]
    images = site / "images"
    return {"total": sum(p.stat().st_size for p in site.rglob("*") if p.is_file()),
            "graphs": sum(graphs), "graph_files": len(graphs),
            "largest_graph": max(graphs, default=0),
            "images": sum(p.stat().st_size for p in images.rglob("*") if p.is_file())
            if images.is_dir() else 0}


def build_explorer(sources: Sequence[GraphSource], out_dir: str | os.PathLike,
                   layer_order: dict[str, list[str]] | None = None,
                   title: str = "TopoAct explorer", progress: bool = True,
                   profile_sources: Sequence[ProfileSource] = (),
                   opening: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Write the explorer for ``sources`` into ``out_dir`` (replaced atomically).

    Parameters
    ----------
    sources
        Every graph to show.
    out_dir
        The explorer folder (``results/explorer``); ``index.html`` is its page.
    layer_order
        Per model, its layers in depth order (the layer selector and the multilayer mode
        follow it); layers not listed follow in name order.
    title
        Page title.
    profile_sources
        Analyses whose profiles get the page ``profiles/index.html`` (linked from the
        header): each profiled data example with its profile size per layer and its
        persistence image.
    opening
        The parameter set the page opens on (e.g. ``overlap-30-epsilon-adaptive``, the
        graphs that have activation images by default); None: the first in name order.
    note
        What the page says on a graph without activation images (:func:`images_note`).

    Returns
    -------
    dict
        The manifest the page reads (graphs with their keys and data files).
    """
    if not sources:
        raise ValueError("the explorer needs at least one mapper graph")
    layer_order = layer_order or {}

    def depth(source: GraphSource) -> tuple:
        order = layer_order.get(source.model, [])
        rank = order.index(source.layer) if source.layer in order else len(order)
        # Clean runs first: the page opens on the first run, not on a noisy variant.
        return (NOISE in source.dataset, source.run, source.sampling, source.parameters, rank,
                source.layer)

    sources = sorted(sources, key=depth)
    manifest: dict[str, Any] = {"title": title, "graphs": [], "layers": {}, "profiles": [],
                                "opening": opening, "images_note": note}
    with store.atomic_directory(out_dir) as tmp:
        (tmp / "index.html").write_text(render_page("index.html", live=False))
        for name in ASSET_FILES:
            shutil.copyfile(ASSETS / name, tmp / name)
        (tmp / "data").mkdir()
        image_sets: dict[int, sparse.csr_matrix] = {}
        payloads: list[dict[str, Any]] = []
        for number, source in enumerate(tqdm(sources, desc="explorer", unit="graph",
                                             disable=not progress)):
            prefix = f"images/{source.run}/{source.sampling}"
            payload, image_sets[number] = graph_payload(source, tmp, prefix)
            payloads.append(payload)
        for number, (source, payload) in enumerate(zip(sources, payloads, strict=True)):
            following = number + 1
            same_stack = (following < len(sources)
                          and depth(sources[following])[:4] == depth(source)[:4])
            payload["next_layer_links"] = (
                shared_image_links(image_sets[number], image_sets[following])
                if same_stack else [])
            (tmp / "data" / f"graph-{number}.js").write_text(
                _script("TOPOACT_GRAPHS", str(number), payload))
            manifest["graphs"].append({
                "id": number, "file": f"data/graph-{number}.js", "run": source.run,
                "dataset": source.dataset, "model": source.model, "seed": source.seed,
                "sampling": source.sampling, "layer": source.layer,
                "parameters": source.parameters, "nodes": len(payload["nodes"]),
                "has_images": any(n["image"] for n in payload["nodes"]),
            })
            manifest["layers"].setdefault(source.model, [])
            if source.layer not in manifest["layers"][source.model]:
                manifest["layers"][source.model].append(source.layer)
        for model, layers in manifest["layers"].items():
            order = layer_order.get(model, [])
            layers.sort(key=lambda la, order=order: (order.index(la) if la in order
                                                     else len(order), la))
        if profile_sources:
            manifest["profiles"] = write_profile_pages(profile_sources, tmp)
        (tmp / "data" / "manifest.js").write_text(_script("TOPOACT_MANIFEST", None, manifest))
    return manifest
