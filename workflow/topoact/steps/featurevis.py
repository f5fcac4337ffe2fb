"""The feature-visualization steps: a graph store's node-average images and contact
sheet, and a layer's data-example images, rendered through the model's weights file
(which examples: :mod:`topoact.steps.examples`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from PIL import Image

from topoact import models, plots, store
from topoact.devices import resolve_device
from topoact.featurevis.examples import example_file_names
from topoact.featurevis.render import (
    RenderResult,
    RenderSettings,
    contact_sheet,
    render_directions,
)


def save_png(path: str | os.PathLike, image: np.ndarray, scale: int = 1) -> None:
    """Write a uint8 (H, W, 3) image as PNG, upscaled ``scale``× with nearest neighbours."""
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale),
                                 Image.Resampling.NEAREST)
    picture.save(path)


def _render_model(weights_path, device: str):
    model, metadata = models.load_model(weights_path, resolve_device(device))
    return model, metadata


def render_graph_nodes(graph_path: str | os.PathLike, weights_path: str | os.PathLike,
                       module_path: str, out_dir: str | os.PathLike,
                       contact_path: str | os.PathLike, settings: RenderSettings,
                       device: str = "auto", progress: bool = True) -> dict[str, Any]:
    """Averaged activation image of every node of a mapper graph (rule render_node_images).

    Writes ``node-{id}.png`` and ``index.json`` into ``out_dir`` (atomically) and a
    contact sheet of the node images ordered by mean lens to ``contact_path``.

    Returns
    -------
    dict
        The index: settings and, per node, file name, start/end cosine and objective.
    """
    graph, stats, attrs = store.read_graph(graph_path)
    model, _ = _render_model(weights_path, device)
    if graph.n_nodes:
        result = render_directions(model, module_path, stats.mean_activation, settings,
                                   progress=progress, description="node averages")
    else:
        size = settings.image_size
        result = RenderResult(np.zeros((0, size, size, 3), np.uint8), *(np.zeros(0),) * 3)
    index = {
        "kind": "node-images", "graph": str(graph_path), "name": attrs.get("name"),
        "layer": attrs.get("layer"), "settings": settings.__dict__,
        "nodes": [{"id": node, "file": f"node-{node}.png",
                   "cosine_start": round(float(result.cosine_start[node]), 4),
                   "cosine_end": round(float(result.cosine_end[node]), 4),
                   "objective": round(float(result.objective_end[node]), 6)}
                  for node in range(graph.n_nodes)],
    }
    with store.atomic_directory(out_dir) as tmp:
        for node, image in enumerate(result.images):
            save_png(tmp / f"node-{node}.png", image)
        store.write_json(tmp / "index.json", index)
    order = np.argsort(stats.mean_lens, kind="stable")
    title = f"{attrs.get('layer', '')} {attrs.get('name', '')}: node averages by mean lens"
    plots.plot_contact_sheet(contact_sheet(result.images, order) if graph.n_nodes else None,
                             contact_path, title=title, count=graph.n_nodes)
    return index


def render_examples(points_path: str | os.PathLike, images_path: str | os.PathLike,
                    weights_path: str | os.PathLike, module_path: str,
                    out_dir: str | os.PathLike, settings: RenderSettings,
                    selection_path: str | os.PathLike | None = None,
                    thumbnail_size: int = 64, device: str = "auto",
                    progress: bool = True) -> dict[str, Any]:
    """Activation images of data examples and their input thumbnails (rule render_data_examples).

    Renders the points listed in the selection (every point of the cloud when
    ``selection_path`` is None), writes ``activation-{image}-{row}-{col}.png``,
    ``image-{image}.png`` (the input, at most ``thumbnail_size`` px) and ``index.json``
    (point → image, position, label and files) into ``out_dir``, atomically.
    """
    cloud = store.read_activations(points_path)
    if selection_path is None:
        chosen = np.arange(len(cloud.points))
    else:
        chosen = np.asarray(store.read_json(selection_path)["points"], dtype=np.int64)
        if len(chosen) and chosen.max() >= len(cloud.points):
            raise ValueError(f"{selection_path}: point {chosen.max()} is outside "
                             f"{points_path} ({len(cloud.points)} points)")
    model, _ = _render_model(weights_path, device)
    if len(chosen):
        result = render_directions(model, module_path, cloud.points[chosen], settings,
                                   progress=progress, description="data examples")
    else:
        result = RenderResult(np.zeros((0, 1, 1, 3), np.uint8), *(np.zeros(0),) * 3)
    images_group = store.open_store(images_path, "images")
    shown = np.unique(cloud.image[chosen]) if len(chosen) else np.zeros(0, np.int64)
    inputs = images_group["images"].get_orthogonal_selection((shown,)) if len(shown) else []
    classes = list(cloud.attrs.get("classes") or images_group.attrs.get("classes") or [])
    entries = []
    with store.atomic_directory(out_dir) as tmp:
        for image_index, pixels in zip(shown, inputs, strict=True):
            picture = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
            picture.thumbnail((thumbnail_size, thumbnail_size))
            picture.save(tmp / f"image-{int(image_index)}.png")
        for k, point in enumerate(chosen):
            image_index, (row, col) = int(cloud.image[point]), cloud.position[point].tolist()
            activation_file, input_file = example_file_names(image_index, row, col)
            save_png(tmp / activation_file, result.images[k])
            label = int(cloud.label[point])
            entries.append({"point": int(point), "image": image_index, "row": row, "col": col,
                            "label": label,
                            "class": classes[label] if 0 <= label < len(classes) else str(label),
                            "activation": activation_file, "input": input_file,
                            "cosine_end": round(float(result.cosine_end[k]), 4)})
        index = {"kind": "example-images", "points_source": str(points_path),
                 "settings": settings.__dict__, "all_points": selection_path is None,
                 "examples": entries}
        store.write_json(tmp / "index.json", index)
    return index
