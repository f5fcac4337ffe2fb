"""The inputs bench/gpu.sh measures on, made on the device in a minute: the digits store,
the embedded model trained there, its `full/conv3` cloud (115,008 × 128) and the
`random` clouds and overlap-50-epsilon-adaptive graphs whose node averages
bench/featurevis.py renders — laid out as `make run` lays them out under ``RESULTS``.

Run: ``python bench/gpu_setup.py RESULTS [--device cuda]`` (bench/gpu.sh does).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from topoact import activations, data, layers, models, names, store
from topoact.devices import resolve_device
from topoact.steps.activations import extract_for_store
from topoact.steps.epsilon import epsilon_for_store
from topoact.steps.mapper import mapper_for_store
from topoact.steps.models import train_from_store

RUN = Path("digits/digits-cnn/seed-0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    device = resolve_device(args.device)
    started = time.perf_counter()
    images = args.results / "data/digits.zarr"
    if not images.exists():
        source = data.load_digits()
        store.write_images(images, source.batches(512), count=source.count,
                           image_shape=source.image_shape, classes=source.classes,
                           splits=source.splits, source=source.source, attrs={})
    weights = args.results / "models/digits-cnn/seed-0.pt"
    if not weights.exists():
        model, metadata = train_from_store(
            images, "small-cnn", seed=0, epochs=args.epochs, batch_size=64,
            learning_rate=3e-3, weight_decay=1e-4, device=device)
        models.save_model(model, weights, metadata)
    print(f"data and model: {time.perf_counter() - started:.1f} s", flush=True)
    for sampling, layer in [("full", "conv3"), ("random", "conv1"), ("random", "conv3"),
                            ("random", "fc1")]:
        cloud = args.results / "activations" / RUN / sampling / f"{layer}.zarr"
        if not cloud.exists():
            extract_for_store(
                weights, images, cloud, layer=layer,
                module_path=layers.layer_module("small-cnn", layer),
                settings=activations.ExtractionSettings(sampling=sampling), device=device,
                progress=False)
        if sampling == "random":
            _graph(args.results, cloud, layer, device)
    print(f"inputs ready in {time.perf_counter() - started:.1f} s under {args.results}",
          flush=True)


def _graph(results: Path, cloud: Path, layer: str, device: torch.device) -> None:
    """The overlap-50-epsilon-adaptive graph of a random cloud (the workflow's settings)."""
    record = results / "epsilon" / RUN / "random" / f"{layer}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    estimate = epsilon_for_store(cloud, record, record.with_suffix(".png"), k=5,
                                 max_points=50000, exact_below=20000)
    base = (results / "mapper" / RUN / "random" / names.grid_name(50, "adaptive")) / layer
    mapper_for_store(cloud, f"{base}.zarr", f"{base}.json", f"{base}.kmapper.json",
                     intervals=70, overlap=0.5, eps=estimate.epsilon, min_samples=5,
                     cover="exact", progress=False, device=device)


if __name__ == "__main__":
    main()
