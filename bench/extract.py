"""Extraction throughput against a bare batched forward pass of the same model.

Both sides run in this one process on the same images (the digits store, all 1,797
images, or ``--copies K`` of them in one store: on a GPU the forward pass of 1,797 images
takes milliseconds, so the store's fixed costs would be all that is measured), the same
batch size and device. The baseline is what a user writes by hand:
``model(x)`` under ``torch.no_grad`` over batches already in memory as float tensors,
with no hooks and no writing. Extraction reads uint8 images from zarr, converts them,
runs to the layer (stopping there), selects positions, and writes the zarr store.

Run: ``.venv/bin/python bench/extract.py [--repeats 5] [--batch-size 256] [--copies 1]
[--samplings random top-l2 full]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from topoact import activations, data, models, store
from topoact.devices import resolve_device
from topoact.steps.activations import extract_activations


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, threads)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--copies", type=int, default=1,
                        help="the digits this many times over, in one store")
    parser.add_argument("--samplings", nargs="+", default=["random", "top-l2", "full"])
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)

    work = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    source = data.load_digits()
    images_path = work / "digits.zarr"
    repeated = (batch for _ in range(args.copies) for batch in source.batches(512))
    splits = source.splits if args.copies == 1 else {"train": (0, source.count * args.copies)}
    store.write_images(images_path, repeated, count=source.count * args.copies,
                       image_shape=source.image_shape, classes=source.classes,
                       splits=splits, source=source.source, attrs={})
    arch = models.get_architecture("small-cnn")
    model = arch.build(10).to(device).eval()  # weights do not change the cost
    pixels = store.open_store(images_path, "images")["images"][:]
    batches = [torch.from_numpy(pixels[i:i + args.batch_size]).permute(0, 3, 1, 2).float()
               .div(255).to(device) for i in range(0, len(pixels), args.batch_size)]

    @torch.no_grad()
    def bare_forward():
        for x in batches:
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()

    bare = _time(bare_forward, args.repeats)
    n = len(pixels)
    print(f"{n:,} images; device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"bare forward pass (full model, no hooks, no I/O): {n / bare:8.0f} images/s")
    print(f"{'layer':<7} {'sampling':<8} {'images/s':>9} {'ratio':>6}")
    rows = []
    for layer in ("conv1", "conv3", "fc1"):
        for sampling in args.samplings:
            out = work / f"{layer}-{sampling}.zarr"
            settings = activations.ExtractionSettings(sampling=sampling,
                                                      batch_size=args.batch_size)

            def extract(layer=layer, settings=settings, out=out):
                extract_activations(model, arch.layers[layer], images_path, out,
                                    settings, device, progress=False)

            seconds = _time(extract, args.repeats)
            rows.append((layer, sampling, n / seconds, bare / seconds))
            print(f"{layer:<7} {sampling:<8} {n / seconds:9.0f} {bare / seconds:6.2f}")
    chosen = [r[3] for r in rows if r[1] in ("random", "top-l2")]
    if chosen:
        print(f"lowest ratio for random/top-l2: {min(chosen):.2f} (target >= 0.85)")


if __name__ == "__main__":
    main()
