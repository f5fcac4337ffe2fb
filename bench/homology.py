"""Homology stage: the time of each of its steps on the default config, and how ripser's
time grows with the number of points N for each layer width.

Part 1 runs the stage's library functions (the ones the workflow's jobs call) on the
stores `make run` left under results/, into a temporary directory, timing diagrams,
distances, specificity and sensitivity. Part 2 times ripser (H0 and H1) on N points
drawn from each layer's `full` cloud (N·H·W points, so N can exceed the image count).

Run: ``.venv/bin/python bench/homology.py [--sizes 500 1000 2000 4000]`` after ``make run``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compare_with_persim(layer_paths: list[Path], n_directions: int) -> None:
    """SW distances of every layer pair of one model, batch and dimension: persim's
    ``sliced_wasserstein`` (a Python loop per direction) against the vectorised one."""
    from persim import sliced_wasserstein as persim_sw

    from topoact import homology
    from topoact.steps.homology import load_diagrams

    layers = [load_diagrams(path) for path in layer_paths]
    pairs = []
    for b in range(len(layers[0].diagrams)):
        for d in range(layers[0].maxdim + 1):
            for i, first in enumerate(layers):
                for second in layers[i + 1:]:
                    pair = homology.diagram_pair(first.diagrams[b][d], second.diagrams[b][d])
                    if pair is not None:
                        pairs.append(pair)
    started = time.perf_counter()
    ours = [homology.sliced_wasserstein(a, b, n_directions) for a, b in pairs]
    t_ours = time.perf_counter() - started
    started = time.perf_counter()
    theirs = [persim_sw(a, b, M=n_directions) for a, b in pairs]
    t_persim = time.perf_counter() - started
    worst = max(abs(x - y) / max(y, 1e-300) for x, y in zip(ours, theirs, strict=True))
    print(f"  SW of {len(pairs)} diagram pairs: vectorised {t_ours:.3f} s, persim "
          f"{t_persim:.2f} s ({t_persim / t_ours:.0f}×); largest relative difference "
          f"{worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--layers", nargs="+", default=["conv1", "conv2", "conv3"])
    parser.add_argument("--skip-stage", action="store_true")
    args = parser.parse_args()

    from topoact import homology, store
    from topoact.config import validate_config
    from topoact.steps.homology import (
        diagrams_for_store,
        sensitivity_for_model,
        specificity_for_model,
        sw_distances_for_model,
    )

    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()),
                             ROOT / "workflow/schemas/config.schema.yaml")
    h = config["homology"]
    analysis = config["analyses"][0]
    base = ROOT / "results/activations" / analysis["dataset"] / analysis["model"]
    images = ROOT / f"results/data/{analysis['dataset']}.zarr"
    print(f"machine: {platform.machine()} {platform.processor() or ''}, python "
          f"{platform.python_version()}")

    if not args.skip_stage:
        work = Path(tempfile.mkdtemp(prefix="bench-homology-"))
        layers, seeds = analysis["layers"], h["seeds"]
        started = time.perf_counter()
        paths = {}
        for seed in seeds:
            paths[seed] = []
            for layer in layers:
                out = work / f"seed-{seed}-{layer}.npz"
                diagrams_for_store(
                    base / f"seed-{seed}/top-l2/{layer}.zarr", images, out,
                    work / f"seed-{seed}-{layer}.png", layer=layer, n_images=h["images"],
                    n_batches=h["batches"], maxdim=h["maxdim"], seed=h["batch_seed"],
                    split=h["split"], progress=False)
                paths[seed].append(out)
        t_diagrams = time.perf_counter() - started
        started = time.perf_counter()
        for seed in seeds:
            sw_distances_for_model(paths[seed], work / f"sw-{seed}.tsv",
                                   work / f"sw-{seed}.png",
                                   n_directions=h["directions"])
        t_distances = time.perf_counter() - started
        started = time.perf_counter()
        specificity = specificity_for_model(paths, work / "spec.tsv",
                                            work / "spec.png",
                                            n_directions=h["directions"])
        t_specificity = time.perf_counter() - started
        started = time.perf_counter()
        sensitivity_for_model(
            {layer: base / f"seed-{seeds[0]}/top-l2/{layer}.zarr" for layer in layers}, paths,
            work / "sens.tsv", work / "sens.png", max_components=h["max_removed_components"],
            maxdim=h["maxdim"], n_directions=h["directions"], progress=False)
        t_sensitivity = time.perf_counter() - started
        total = t_diagrams + t_distances + t_specificity + t_sensitivity
        print(f"homology stage, default config ({len(seeds)} seeds × {len(layers)} layers × "
              f"{h['batches']} batches of {h['images']} images, H0–H{h['maxdim']}):")
        for name, seconds in (("diagrams", t_diagrams), ("SW distances", t_distances),
                              ("specificity", t_specificity), ("sensitivity", t_sensitivity),
                              ("total", total)):
            print(f"  {name:<14} {seconds:8.1f} s")
        print("  mean ρ per dimension: " + ", ".join(
            f"H{d} {v:.3f}" for d, v in specificity.groupby("dim")["rho"].mean().items()))
        compare_with_persim(paths[seeds[0]], h["directions"])

    print("ripser time (s) by N, H0+H1, points from each layer's full cloud (seed 0):")
    print(f"{'layer':<8} {'width':>5} " + " ".join(f"{n:>8}" for n in args.sizes))
    rng = np.random.default_rng(0)
    for layer in args.layers:
        points = store.open_store(base / f"seed-0/full/{layer}.zarr", "activations")["points"]
        unique = np.unique(points[:], axis=0)  # duplicates (background) add nothing to PH
        times = []
        for n in args.sizes:
            cloud = unique[rng.choice(len(unique), size=min(n, len(unique)), replace=False)]
            started = time.perf_counter()
            homology.persistence(cloud, maxdim=1)
            times.append(time.perf_counter() - started)
        print(f"{layer:<8} {points.shape[1]:>5} " + " ".join(f"{t:8.2f}" for t in times),
              flush=True)


if __name__ == "__main__":
    main()
