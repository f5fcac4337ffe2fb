"""The TopoAct rehearsal at its real cloud shape: one layer, 300,000 points × 512.

TopoAct's clouds are 300,000 points per layer (300 images of each of 1,000 classes, one
random position each); `mixed4c` has 512 channels. This bench makes a cloud of that
shape by an honest route — `full` sampling of GoogLeNet's `mixed4c` (14 × 14 positions)
over 1,531 generated 224 px images (`topoact.rehearsal`'s smooth colour fields) with
random weights — and runs the preset's stages on it, each as its own process through
the library's store-to-store steps as the workflow's scripts call them: extraction, ε
(k = 5, the preset's estimator), the mapper grid (70 intervals, overlaps 20/30/50, ε
adaptive and the preset's fixed 1000), the bootstrap of one graph and feature
visualization of its nodes, each of these two run with one resample (step) and with
1 + ``--bootstrap`` (1 + ``--steps``): the difference, per resample (step), is
extrapolated to the preset's 100 resamples (512 steps). Each stage's wall time and peak memory
(``VmHWM``) are printed, then what the full TopoAct run (9 layers, 54 graphs) would take
here, stage by stage.

Run: ``.venv/bin/python bench/rehearsal.py [--images 1531] [--bootstrap 2] [--steps 2]
[--device cpu]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from topoact import rehearsal, store

LAYER, MODULE = "mixed4c", "net.inception4c"
OVERLAPS, FIXED_EPSILON = (0.2, 0.3, 0.5), 1000.0


def peak_gb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 2**20


def setup(work: Path, images: int) -> None:
    """The images store (generated, 1,000 classes) and GoogLeNet with random weights,
    saved as the workflow's train_model saves a model given a checkpoint."""
    from topoact import models
    from topoact.steps.models import pretrained_from_file

    rng = np.random.default_rng(0)
    # Smooth colour fields with pixel noise on top: without it, neighbouring positions of
    # a flat region give identical activations and the cloud is mostly duplicates.
    pixels = np.stack([np.clip(np.asarray(rehearsal.smooth_image(rng, 224), np.float32)
                               + rng.normal(0, 24, (224, 224, 3)), 0, 255).astype(np.uint8)
                       for _ in range(images)])
    labels = (np.arange(images) % 1000).astype(np.int16)
    store.write_images(work / "images.zarr", iter([(pixels, labels)]), count=images,
                       image_shape=(224, 224, 3), classes=[f"class-{k:04d}" for k in range(1000)],
                       splits={"train": (0, images), "test": (images, images)},
                       source="bench/rehearsal.py", attrs={})
    checkpoint = work / "googlenet-1000.pt"
    rehearsal.write_checkpoint(checkpoint, "googlenet", 1000)
    model, metadata = pretrained_from_file("googlenet", str(checkpoint), checkpoint)
    models.save_model(model, work / "model.pt", metadata)


def stage(name: str, work: Path, args: argparse.Namespace) -> dict:
    """One stage in this process; returns what it measured beside the time."""
    cloud, graphs = work / "cloud.zarr", work / "graphs"
    if name == "extract":
        from topoact import activations, devices
        from topoact.steps.activations import extract_for_store

        extract_for_store(
            work / "model.pt", work / "images.zarr", cloud, layer=LAYER, module_path=MODULE,
            settings=activations.ExtractionSettings(sampling="full", batch_size=64),
            device=devices.resolve_device(args.device), progress=False)
        return {"points": list(store.read_activations(cloud).points.shape)}
    if name == "epsilon":
        from topoact.steps.epsilon import epsilon_for_store

        found = epsilon_for_store(cloud, work / "eps.json", work / "eps.png", k=5,
                                  max_points=50_000, exact_below=20_000,
                                  device=args.device)
        return {"epsilon": found.epsilon}
    if name == "mapper":
        from topoact.steps.mapper import GraphOutput, graph_files, mapper_grid_for_store

        eps = store.read_epsilon(work / "eps.json")
        outputs = [GraphOutput(p, e, *graph_files(graphs / f"{p}-{e}"),
                               {"name": f"{p}-{e}", "layer": LAYER})
                   for p in OVERLAPS for e in (eps, FIXED_EPSILON)]
        built = mapper_grid_for_store(cloud, outputs, intervals=70, min_samples=5,
                                      cover="exact", progress=False,
                                      device=args.device, threads=os.cpu_count())
        return {"nodes": [g.n_nodes for g in built]}
    graph = graphs / f"0.3-{store.read_epsilon(work / 'eps.json')}.zarr"
    # Each measured twice, with one resample (step) and with 1 + n: the difference is
    # the cost of n, without the start-up both share.
    timed = []
    if name == "stability":
        from topoact.steps.stability import stability_for_store

        for resamples in (1, 1 + args.bootstrap):
            started = time.perf_counter()
            result, _ = stability_for_store(graph, cloud, bootstrap=resamples,
                                            confidence=0.9, device=args.device,
                                            progress=False)
            timed.append(time.perf_counter() - started)
        return {"per_unit_s": (timed[1] - timed[0]) / args.bootstrap,
                "features": len(result.confidence)}
    from topoact.featurevis.render import RenderSettings
    from topoact.steps.featurevis import render_graph_nodes

    for steps in (1, 1 + args.steps):
        started = time.perf_counter()
        index = render_graph_nodes(graph, work / "model.pt", MODULE, work / f"nodes-{steps}",
                                   work / "nodes.png", RenderSettings(steps=steps,
                                                                      image_size=224),
                                   device=args.device, progress=False)
        timed.append(time.perf_counter() - started)
    return {"per_unit_s": (timed[1] - timed[0]) / args.steps, "nodes": len(index["nodes"])}


def run_stage(name: str, work: Path, args: argparse.Namespace) -> dict:
    """A stage as a child process: its wall time, peak memory and what it measured."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--work", str(work), "--device",
         args.device, "--bootstrap", str(args.bootstrap), "--steps", str(args.steps)],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{result.stderr[-3000:]}")
    record = json.loads(result.stdout.strip().splitlines()[-1])
    record.update(stage=name, seconds=time.perf_counter() - started)
    print(json.dumps(record), flush=True)
    return record


def full_run(records: dict[str, dict], images: int) -> list[tuple[str, float]]:
    """The full TopoAct run (300,000 images, 9 layers, 54 graphs) extrapolated from one
    layer: extraction × 300,000 / ``images`` (each layer's job runs every image through
    the network; here full sampling gave the cloud its 300k points from fewer images)
    × 9 layers; ε and the grid × 9 layers (mixed4c's 512 channels are the nine layers'
    middle width); the bootstrap × 100 / resamples × 54 graphs; the node images × 512 /
    steps × 54."""
    return [("extraction", 9 * 300_000 / images * records["extract"]["seconds"]),
            ("ε", 9 * records["epsilon"]["seconds"]),
            ("mapper grid", 9 * records["mapper"]["seconds"]),
            ("stability, B = 100", 54 * 100 * records["stability"]["per_unit_s"]),
            ("node images, 512 steps", 54 * 512 * records["featurevis"]["per_unit_s"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1531, help="× 196 positions")
    parser.add_argument("--bootstrap", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        record = stage(args.stage, Path(args.work), args)
        print(json.dumps({**record, "peak_gb": peak_gb()}))
        return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        setup(work, args.images)
        records = {name: run_stage(name, work, args)
                   for name in ("extract", "epsilon", "mapper", "stability", "featurevis")}
    print("\n| stage (one layer) | time | peak memory |\n|---|---:|---:|")
    for name, record in records.items():
        print(f"| {name} | {record['seconds']:.1f} s | {record['peak_gb']:.2f} GB |")
    print("\n| the full run, extrapolated | here |\n|---|---:|")
    for name, seconds in full_run(records, args.images):
        print(f"| {name} | {seconds / 3600:.2f} h |")


if __name__ == "__main__":
    main()
