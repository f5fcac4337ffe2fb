"""Batched profiling against DeepDataProfiler's own ``create_profile``, image by image.

Both sides profile the same seeded random 224-px images through the same random-weight
torchvision ResNet-18 on the same device, in this one process. DDP's ``ChannelProfiler``
(the tool a user would otherwise pick) runs ``create_profile`` once per image, as its
tutorials do; this package profiles batches (``profiles.build.profile_images``, with
``inplace_add`` so that it reads the residual adds as DDP does). The bench checks that
both give the same synapses and influential neurons (weights within 1e-5; neuron counts
as DDP's own synapses give them, see tests/test_profiles.py) before it reports images/s.

Run: ``.venv/bin/python bench/profiles.py [--images 32] [--batch-size 16] [--neuron channel]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
import torchvision

from topoact.devices import resolve_device
from topoact.profiles import build
from topoact.profiles.tables import NEURON_KINDS, Profile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from ddp_oracle import assert_same, ddp_tables, import_ddp, recounted  # noqa: E402


def same(ours: Profile, theirs: Profile) -> bool:
    """Equal to DDP's profile recounted from its own synapses (the oracle of the tests)."""
    try:
        assert_same(ours, recounted(theirs))
    except AssertionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--neuron", default="channel", choices=NEURON_KINDS)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    ddp = import_ddp()
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval().to(device)
    x = torch.rand(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    x = x.to(device)

    profiler = (ddp.ChannelProfiler if args.neuron == "channel" else ddp.ElementProfiler)(
        model, device=str(device))
    profiler.create_profile(x[:1])  # warm-up
    start = time.perf_counter()
    theirs = [profiler.create_profile(x[i:i + 1]) for i in range(args.images)]
    ddp_seconds = time.perf_counter() - start
    theirs = [ddp_tables(p, profiler.pred_dict) for p in theirs]

    build.profile_images(model, x[:2], neuron=args.neuron, inplace_add=True,
                         device=device)  # warm-up
    start = time.perf_counter()
    ours, _ = build.profile_images(model, x, neuron=args.neuron, inplace_add=True,
                                   batch_size=args.batch_size, device=device)
    our_seconds = time.perf_counter() - start

    equal = sum(same(a, b) for a, b in zip(ours, theirs, strict=True))
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {device}")
    print(f"ResNet-18 (random weights), {args.images} images at 224 px, {args.neuron} "
          f"profiles, threshold 0.1")
    print(f"  DDP create_profile, one image at a time:  {args.images / ddp_seconds:7.2f} images/s")
    print(f"  profiles.build.profile_images, batch {args.batch_size:>3}: "
          f"{args.images / our_seconds:7.2f} images/s")
    print(f"  ratio: {ddp_seconds / our_seconds:.2f}x; equal profiles: {equal}/{args.images}")
    if equal != args.images:
        raise SystemExit("the profiles differ: the comparison is void")


if __name__ == "__main__":
    main()
