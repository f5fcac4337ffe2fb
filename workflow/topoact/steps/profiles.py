"""The profile steps: a run's profile store in; each profile's persistence and image, and
the similarity tables and figures of the classes, out."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from topoact import store
from topoact.plots import (
    plot_class_persistence_images,
    plot_jaccard_heatmaps,
    plot_profile_sizes,
    plot_within_across,
)
from topoact.profiles.tables import add_profiles, from_tables, layer_sizes
from topoact.profiles.topology import (
    ImageGrid,
    MetricSettings,
    jaccard_matrix,
    profile_topology,
    within_across,
)


def topology_for_store(profiles_path: str | os.PathLike, out_npz: str | os.PathLike,
                       figure: str | os.PathLike, metric: MetricSettings, grid: ImageGrid,
                       log=None) -> None:
    """Diagrams and persistence images of every profile of a store (one npz), and the
    figure of each class's mean persistence image."""
    tables, attrs = store.read_profiles(profiles_path)
    found = from_tables(tables)
    bars, images, off_grid = [], [], 0
    for i, profile in enumerate(tqdm(found, desc="profile topology", unit="image")):
        diagrams, image, outside = profile_topology(profile, metric, grid)
        off_grid += outside
        images.append(image)
        bars += [np.column_stack([np.full(len(d), i), np.full(len(d), dim), d])
                 for dim, d in enumerate(diagrams)]
    if off_grid and log is not None:
        print(f"{off_grid} H1 bars fall outside the persistence-image grid {grid}; widen "
              "profiles.image ranges", file=log)
    images = np.stack(images) if images else np.zeros((0, *grid.shape))
    labels, classes = tables["label"].astype(np.int64), attrs["classes"]
    sizes = np.stack([layer_sizes(p, len(attrs["layers"])) for p in found])
    with store.atomic_file(out_npz) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, bars=np.concatenate(bars) if bars else np.zeros((0, 4)),
                            images=images, labels=labels, image=tables["image"], sizes=sizes,
                            birth_range=grid.birth_range, pers_range=grid.pers_range,
                            pixel_size=grid.pixel_size, spread=grid.spread)
    means = {classes[c]: images[labels == c].mean(axis=0) for c in np.unique(labels)}
    extent = (*grid.birth_range, *grid.pers_range)
    plot_class_persistence_images(means, extent, figure,
                                  title=f"mean H1 persistence image per class "
                                        f"({attrs['neuron']} profiles)")


def similarity_for_store(profiles_path: str | os.PathLike, out_dir: str | os.PathLike,
                         permutations: int = 2000, seed: int = 0) -> None:
    """Jaccard similarity of class profiles (table + heatmap), within- against
    across-class similarity of image profiles (table + figure), and profile sizes per
    layer (figure), written into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables, attrs = store.read_profiles(profiles_path)
    found, labels = from_tables(tables), tables["label"].astype(np.int64)
    classes, present = attrs["classes"], np.unique(labels)
    class_profiles = [add_profiles([p for p, y in zip(found, labels, strict=True) if y == c])
                      for c in present]
    names = [classes[c] for c in present]
    heatmaps, pairs, p_values, summaries = {}, {}, {}, []
    upper = np.triu(np.ones((len(found),) * 2, bool), k=1)
    same = labels[:, None] == labels[None, :]
    for kind in ("neurons", "synapses"):
        heatmaps[kind] = jaccard_matrix(class_profiles, kind)
        store.write_tsv(pd.DataFrame(heatmaps[kind], index=pd.Index(names, name="class"),
                                     columns=names).reset_index(),
                        out / f"class-jaccard-{kind}.tsv")
        matrix = jaccard_matrix(found, kind)
        table, p_values[kind] = within_across(matrix, labels, classes, permutations, seed)
        summaries.append(table.assign(kind=kind, p_value=p_values[kind]))
        pairs[kind] = (matrix[upper & same], matrix[upper & ~same])
    store.write_tsv(pd.concat(summaries, ignore_index=True), out / "within-across.tsv")
    plot_jaccard_heatmaps(heatmaps, names, out / "class-jaccard.png",
                          title=f"{attrs['neuron']} profiles, threshold {attrs['threshold']}")
    plot_within_across(pairs, p_values, out / "within-across.png")
    sizes = np.stack([layer_sizes(p, len(attrs["layers"])) for p in found])
    plot_profile_sizes(sizes, labels, classes, [r["name"] for r in attrs["layers"]],
                       out / "sizes.png")
