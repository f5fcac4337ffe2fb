"""Where the mapper engine's time goes on a device: one grid, cold, warm and profiled.

On one activation cloud, the engine clusters the default grid (70 intervals, overlaps
20/30/50 % × ε adaptive/fixed, KeplerMapper's cover) with ``cluster_grid``: once cold
(the first CUDA call, context and library start-up included), then warm once per
``--workers`` count (intervals clustered at once in threads) and once per
``--slab-scales`` factor (the engine's slabs of pairs and chunks of its edge list that
many times larger: on a GPU fewer, larger kernels and synchronisations). Then the
``--profiled`` intervals that hold the most points (4 of 70: the whole grid's 700,000
operator calls take the profiler minutes and gigabytes to tabulate) are clustered once
under ``torch.profiler`` (torch's operators and, on CUDA, the kernels and the host's
waits for them) and once under ``cProfile`` (the library's Python, numpy and scipy
steps, which no torch profile shows). Every warm run's labels are checked equal to the
cold run's.

It answers "is the device busy or waiting": on an H200 the grid of ``full/conv3``
(115,008 × 128, 778 M pair distances, about 0.2 TFLOP) took as long as on a 2-core CPU.

Run: ``python bench/engine_profile.py CLOUD [--device cuda] [--workers 1 4]
[--slab-scales 8] [--profiled 4]``
(bench/gpu.sh runs it; ``--device cpu`` is a dry check).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from topoact import engine, epsilon, mapper, store
from topoact.engine import tiles

OVERLAPS = (0.2, 0.3, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cloud", type=Path, help="activations store (zarr) or (N, C) .npy")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4],
                        help="worker threads of the warm runs (the engine's default: 1 on "
                        "a GPU, torch's thread count on a CPU)")
    parser.add_argument("--slab-scales", type=int, nargs="*", default=[8],
                        help="warm runs (1 worker) with tiles.SLAB_PAIRS and CHUNK_PAIRS "
                        "this many times larger")
    parser.add_argument("--fixed-epsilon", type=float, default=4.0)
    parser.add_argument("--profiled", type=int, default=4,
                        help="intervals profiled (those holding the most points)")
    parser.add_argument("--top", type=int, default=12, help="rows of each profile table")
    args = parser.parse_args()
    device = torch.device(args.device)
    points = store.load_points(args.cloud)[0]
    lens = mapper.l2_lens(points)
    estimate, _ = epsilon.estimate_epsilon(np.asarray(points), 5, max_points=50_000,
                                           exact_below=20_000, device=device)
    eps = [float(estimate.epsilon), args.fixed_epsilon]
    members = [mapper.make_cover(lens, 70, p, "kmapper").members(lens) for p in OVERLAPS]
    print(f"cloud {args.cloud.name}: {points.shape[0]:,} x {points.shape[1]}, ε "
          f"{eps[0]:.4g} and {eps[1]:.4g}, overlaps {OVERLAPS}; device {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, tile "
          f"{engine.resolve_tile(points.shape[1], device)}, slabs of {tiles.SLAB_PAIRS:,} "
          f"pairs, chunks of {tiles.CHUNK_PAIRS:,}")

    def grid(covers: list[list[np.ndarray]], workers: int | None = None
             ) -> tuple[float, list]:
        started = time.perf_counter()
        labels = list(engine.cluster_grid(points, covers, eps, 5, device, workers=workers))
        return time.perf_counter() - started, labels

    seconds, reference = grid(members)
    print(f"cold (default workers): {seconds:6.2f} s")
    for workers in args.workers:
        seconds, labels = grid(members, workers)
        same = "same labels" if _same(labels, reference) else "LABELS DIFFER"
        print(f"warm, {workers} worker(s): {seconds:6.2f} s  {same}")
    for scale in args.slab_scales:
        seconds, labels = _scaled(scale, lambda: grid(members, 1))
        same = "same labels" if _same(labels, reference) else "LABELS DIFFER"
        print(f"warm, 1 worker, slabs and chunks x{scale}: {seconds:6.2f} s  {same}")
    widest = [len(interval) for interval in members[-1]]
    busiest = np.sort(np.argsort(widest)[::-1][:args.profiled])
    profiled = [[cover[i] for i in busiest] for cover in members]
    share = sum(widest[i] for i in busiest) / sum(widest)
    print(f"\nprofiled: the {len(busiest)} intervals holding the most points ({share:.0%} "
          f"of the widest cover's), 1 worker; unprofiled {grid(profiled, 1)[0]:.2f} s")
    _torch_profile(lambda: grid(profiled, 1), device, args.top)
    _python_profile(lambda: grid(profiled, 1), args.top)


def _scaled(scale: int, run: Callable[[], tuple[float, list]]) -> tuple[float, list]:
    """``run()`` with the engine's slab and chunk sizes ``scale`` times larger."""
    slab, chunk = tiles.SLAB_PAIRS, tiles.CHUNK_PAIRS
    tiles.SLAB_PAIRS, tiles.CHUNK_PAIRS = slab * scale, chunk * scale
    try:
        return run()
    finally:
        tiles.SLAB_PAIRS, tiles.CHUNK_PAIRS = slab, chunk


def _same(labels: list, reference: list) -> bool:
    """Whether two runs' per-interval labels are equal."""
    return len(labels) == len(reference) and all(
        i == j and all(np.array_equal(a, b) for row, other in zip(x, y, strict=True)
                       for a, b in zip(row, other, strict=True) if a is not None)
        for (i, x), (j, y) in zip(labels, reference, strict=True))


def _torch_profile(run: Callable[[], tuple[float, list]], device: torch.device,
                   top: int) -> None:
    """Print torch's operators by self host time and, on CUDA, by self device time."""
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as profiled:
        seconds, _ = run()
    averages = profiled.key_averages()
    print(f"\ntorch.profiler: {seconds:.2f} s")
    print(averages.table(sort_by="self_cpu_time_total", row_limit=top, max_name_column_width=32))
    if device.type == "cuda":
        print(averages.table(sort_by="self_cuda_time_total", row_limit=top,
                             max_name_column_width=32))
        kernels = [event for event in profiled.events() if event.device_type == DeviceType.CUDA]
        busy = sum(event.time_range.elapsed_us() for event in kernels) / 1e6
        print(f"device busy {busy:.2f} s of {seconds:.2f} s ({len(kernels):,} kernels and "
              "copies, their durations summed)")


def _python_profile(run: Callable[[], tuple[float, list]], top: int) -> None:
    """Print the library's functions by their own time (numpy and scipy included)."""
    profiler = cProfile.Profile()
    seconds, _ = profiler.runcall(run)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    body = text.getvalue()
    print(f"\ncProfile: {seconds:.2f} s")
    print(body[body.index("ncalls"):].rstrip())


if __name__ == "__main__":
    main()
