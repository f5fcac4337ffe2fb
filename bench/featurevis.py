"""Feature visualization: batched rendering against one-at-a-time lucent ``render_vis``.

Targets are the mean activation vectors (node averages) of mapper graphs that
`make run` left under results/ (overlap-50-epsilon-adaptive, random sampling, seed 0).
Both sides render the same targets on the same device with the same objective,
parametrization, transforms and step count; lucent's ``render_vis`` takes one target
at a time and runs the whole model, the batched renderer optimises ``--batch-size``
images together and stops the forward pass at the target layer. Printed: images/s of
each, their ratio, and the mean cosine between the final image's activation and the
target (so speed is not bought with quality).

Run: ``.venv/bin/python bench/featurevis.py [--targets 64] [--steps 64]`` after ``make run``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=64)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--layers", nargs="+", default=["conv1", "conv3", "fc1"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=ROOT / "results",
                        help="where `make run` (or bench/gpu_setup.py) left its results")
    parser.add_argument("--powers", type=float, nargs="*", default=[0, 1, 2, 4],
                        help="cosine powers n to compare (mean cosine reached; batched)")
    args = parser.parse_args()

    from topoact import layers, models, store
    from topoact.devices import resolve_device
    from topoact.featurevis import render

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model, metadata = models.load_model(args.results / "models/digits-cnn/seed-0.pt", device)
    graphs = args.results / "mapper/digits/digits-cnn/seed-0/random/overlap-50-epsilon-adaptive"
    print(f"machine: {platform.machine()} {platform.processor() or ''}, device {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{args.targets} node averages per layer, {args.steps} steps, batch "
          f"{args.batch_size}, power 4, image 32 px")
    print(f"{'layer':<6} {'batched img/s':>13} {'lucent img/s':>12} {'ratio':>6} "
          f"{'cos batched':>11} {'cos lucent':>10}")
    for layer in args.layers:
        _, stats, _ = store.read_graph(graphs / f"{layer}.zarr")
        targets = np.resize(stats.mean_activation, (args.targets, stats.mean_activation.shape[1]))
        module = layers.layer_module(metadata["architecture"], layer)
        settings = render.RenderSettings(steps=args.steps, batch_size=args.batch_size,
                                         power=4, image_size=32)
        render.render_directions(model, module, targets[:2], settings, progress=False)
        started = time.perf_counter()
        batched = render.render_directions(model, module, targets, settings, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t_batched = time.perf_counter() - started
        started = time.perf_counter()
        alone = np.stack([render.render_with_lucent(model, module, v, settings)
                          for v in targets])
        t_alone = time.perf_counter() - started
        cos_alone, _ = render.score_images(
            model, module, torch.from_numpy(alone).permute(0, 3, 1, 2).float().div(255).to(device),
            torch.from_numpy(targets), settings.power)
        rate_b, rate_a = len(targets) / t_batched, len(targets) / t_alone
        print(f"{layer:<6} {rate_b:13.1f} {rate_a:12.1f} {rate_b / rate_a:6.1f} "
              f"{batched.cosine_end.mean():11.3f} {cos_alone.mean():10.3f}", flush=True)

    if args.powers:
        print(f"mean cosine with the target by power n ({args.targets} node averages, "
              f"{args.steps} steps):")
        print(f"{'layer':<6} " + " ".join(f"{'n=' + format(n, 'g'):>7}" for n in args.powers))
        for layer in args.layers:
            _, stats, _ = store.read_graph(graphs / f"{layer}.zarr")
            targets = np.resize(stats.mean_activation,
                                (args.targets, stats.mean_activation.shape[1]))
            module = layers.layer_module(metadata["architecture"], layer)
            cosines = [render.render_directions(
                model, module, targets, render.RenderSettings(
                    steps=args.steps, batch_size=args.batch_size, power=n, image_size=32),
                progress=False).cosine_end.mean() for n in args.powers]
            print(f"{layer:<6} " + " ".join(f"{c:7.3f}" for c in cosines), flush=True)


if __name__ == "__main__":
    main()
