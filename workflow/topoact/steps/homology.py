"""The homology steps: a layer's persistence diagrams from its top-l2 store, and the
sliced Wasserstein distances, specificity and sensitivity of a model's diagrams."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from topoact import plots, store
from topoact.homology import (
    LayerDiagrams,
    distance_matrix,
    draw_batches,
    layer_diagrams,
    mean_and_cv,
    persistence,
    removal_steps,
    remove_top_components,
    row_correlations,
    sliced_wasserstein,
)


def save_diagrams(path: str | os.PathLike, diagrams: LayerDiagrams) -> None:
    """Save as npz (``dim{d}_batch{b}`` arrays, ``batches``), written whole then renamed."""
    arrays = {f"dim{d}_batch{b}": diagrams.diagrams[b][d]
              for b in range(len(diagrams.diagrams)) for d in range(diagrams.maxdim + 1)}
    with store.atomic_file(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, batches=diagrams.batches, layer=np.array(diagrams.layer), **arrays)


def diagrams_for_store(points_path, images_path, out_path, plot_path, *, layer: str,
                       n_images: int, n_batches: int, maxdim: int, seed: int,
                       split: str = "test", progress: bool = True) -> LayerDiagrams:
    """Persistence diagrams of a layer's top-ℓ2 store over B batches of N split images."""
    group = store.open_store(points_path, "activations")
    if group.attrs.get("sampling") != "top-l2":
        raise store.StoreError(f"{points_path}: persistent homology uses top-l2 clouds, this "
                               f"store holds {group.attrs.get('sampling')!r} sampling")
    image = group["image"][:]
    start, stop = store.split_range(store.image_store_info(store.open_store(images_path,
                                                                             "images")),
                                    split, images_path)
    available = image[(image >= start) & (image < stop)]
    if len(available) < 3:
        raise store.StoreError(f"{points_path}: only {len(available)} images of split "
                               f"{split!r} in the cloud; persistent homology needs more")
    batches = draw_batches(available, n_images, n_batches, seed)
    diagrams = layer_diagrams(group["points"][:], image, batches, layer, maxdim, progress)
    save_diagrams(out_path, diagrams)
    plots.plot_diagrams(diagrams.diagrams[0], plot_path,
                        f"{layer}: Vietoris–Rips persistence, batch 0 of {len(batches)} "
                        f"({batches.shape[1]} images)")
    return diagrams


def _load_layers(paths) -> list[LayerDiagrams]:
    return [load_diagrams(p) for p in paths]


def sw_distances_for_model(diagram_paths, out_tsv, heatmap_path, *, n_directions: int = 50,
                           title: str = ""):
    """SW distances between every pair of a model's layers, per dimension → TSV + heatmaps."""
    layers = _load_layers(diagram_paths)
    names = [d.layer for d in layers]
    rows, matrices = [], {}
    for dim in range(layers[0].maxdim + 1):
        mean, cv = mean_and_cv(distance_matrix(layers, layers, dim, n_directions))
        matrices[dim] = (mean, cv)
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                rows.append({"layer_a": a, "layer_b": b, "dim": dim, "sw_mean": mean[i, j],
                             "sw_cv": cv[i, j], "batches": len(layers[0].diagrams)})
    table = pd.DataFrame(rows)
    store.write_tsv(table, out_tsv)
    plots.plot_distance_heatmaps(matrices, names, heatmap_path, title)
    return table


def specificity_for_model(diagram_paths_by_seed: dict[int, list[str]], out_tsv, plot_path, *,
                          n_directions: int = 50, title: str = ""):
    """Specificity test: within-model vs cross-model distance rows, ρ per layer.

    The first seed is model A; every other seed is a model B. For each layer i of A,
    ρ_i = corr(d_A(i, ·), d_AB(i, ·)) with distances averaged over batches.
    """
    seeds = list(diagram_paths_by_seed)
    if len(seeds) < 2:
        raise ValueError("the specificity test needs at least two model seeds "
                         f"(homology.seeds has {seeds})")
    model_a = _load_layers(diagram_paths_by_seed[seeds[0]])
    names = [d.layer for d in model_a]
    rows, shown = [], {}
    for dim in range(model_a[0].maxdim + 1):
        within, _ = mean_and_cv(distance_matrix(model_a, model_a, dim, n_directions))
        for seed in seeds[1:]:
            model_b = _load_layers(diagram_paths_by_seed[seed])
            cross, _ = mean_and_cv(distance_matrix(model_a, model_b, dim, n_directions))
            rho = row_correlations(within, cross)
            if seed == seeds[1]:
                shown[dim] = (within, cross)
            rows += [{"seed_a": seeds[0], "seed_b": seed, "dim": dim, "layer": name,
                      "rho": rho[i]} for i, name in enumerate(names)]
    table = pd.DataFrame(rows)
    store.write_tsv(table, out_tsv)
    plots.plot_specificity(shown, table, names, seeds, plot_path, title)
    return table


def sensitivity_for_model(points_paths: dict[str, str], diagram_paths_by_seed, out_tsv,
                          plot_path, *, max_components: int, maxdim: int,
                          n_directions: int = 50, title: str = "", progress: bool = True):
    """Sensitivity test: SW distance between a layer's cloud and copies of it with the top-k
    principal components deleted, against the cross-seed baseline of that layer.

    Parameters
    ----------
    points_paths
        Layer name → top-ℓ2 store of the reference model (the first seed).
    diagram_paths_by_seed
        Seed → diagram files (one per layer, same order as ``points_paths``); the first seed
        is the reference, the others give the baseline.
    """
    seeds = list(diagram_paths_by_seed)
    reference = _load_layers(diagram_paths_by_seed[seeds[0]])
    others = [_load_layers(diagram_paths_by_seed[s]) for s in seeds[1:]]
    rows = []
    for index, (layer, path) in enumerate(points_paths.items()):
        base = reference[index]
        group = store.open_store(path, "activations")
        points, image = group["points"][:], group["image"][:]
        row_of = {int(i): r for r, i in enumerate(image)}
        baseline = {}
        for dim in range(maxdim + 1):
            across_seeds = [sliced_wasserstein(base.diagrams[b][dim],
                                               other[index].diagrams[b][dim], n_directions)
                            for other in others for b in range(len(base.diagrams))]
            baseline[dim] = float(np.mean(across_seeds)) if across_seeds else float("nan")
            rows.append({"layer": layer, "dim": dim, "removed": 0, "sw_mean": 0.0,
                         "baseline": baseline[dim]})
        for k in tqdm(removal_steps(max_components, points.shape[1]),
                      desc=f"sensitivity {layer}", disable=not progress):
            per_batch = []
            for b, batch in enumerate(base.batches):
                cloud = points[[row_of[int(i)] for i in batch]]
                reduced = persistence(remove_top_components(cloud, k), maxdim)
                per_batch.append([sliced_wasserstein(base.diagrams[b][d], reduced[d],
                                                     n_directions) for d in range(maxdim + 1)])
            means = np.mean(per_batch, axis=0)
            rows += [{"layer": layer, "dim": dim, "removed": k, "sw_mean": float(means[dim]),
                      "baseline": baseline[dim]} for dim in range(maxdim + 1)]
    table = pd.DataFrame(rows)
    store.write_tsv(table, out_tsv)
    plots.plot_sensitivity(table, plot_path, title)
    return table


def load_diagrams(path: str | os.PathLike) -> LayerDiagrams:
    """Load diagrams saved by :func:`save_diagrams`."""
    with np.load(path) as data:
        batches = data["batches"]
        dims = 1 + max(int(k.split("_")[0][3:]) for k in data.files if k.startswith("dim"))
        diagrams = [[data[f"dim{d}_batch{b}"] for d in range(dims)] for b in range(len(batches))]
        return LayerDiagrams(str(data["layer"]), diagrams, batches)
