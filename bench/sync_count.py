"""What would synchronise a CUDA device in one mapper grid: a proxy measured on the CPU.

A GPU engine is bound by the host when it waits for the device: every operation whose
result the host must read (a ``nonzero``, a boolean-mask index, an ``.item()``, a
``unique``, a copy to host memory) empties the device's queue. This script runs the
engine's grid on one cloud (70 intervals, overlaps 20/30/50 % × two ε, KeplerMapper's
cover, as ``bench/engine_profile.py``) with one worker, under a torch dispatch mode that
counts such operators, and with the host's round trips (``.numpy()``, ``.tolist()``,
``.cpu()``) and the host-side union–find calls counted too. The counts do not depend on
the device (the same code runs on both), so they judge a device-resident engine's
progress without a device: issue 46's target is 1/20 of today's counts.

Run: ``.venv/bin/python bench/sync_count.py CLOUD [--fixed-epsilon 4.0]``
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from topoact import engine, epsilon, mapper, store
from topoact.engine import recompute

OVERLAPS = (0.2, 0.3, 0.5)
aten = torch.ops.aten
#: Operators whose result's size or value the host must know (a device synchronisation).
SYNCING = {
    aten.nonzero.default: "nonzero",
    aten.masked_select.default: "boolean-mask indexing",
    aten._local_scalar_dense.default: ".item() / int() / bool()",
    aten.unique_consecutive.default: "unique",
    aten._unique2.default: "unique",
    aten.unique_dim.default: "unique",
    aten.bincount.default: "bincount (its length)",
    aten.repeat_interleave.Tensor: "repeat_interleave (its length)",
    aten.equal.default: "equal",
}
HOST_METHODS = {"numpy": ".numpy() / .cpu() / .tolist()", "cpu": ".numpy() / .cpu() / .tolist()",
                "tolist": ".numpy() / .cpu() / .tolist()"}
HOST_UNION_FIND = ("find_roots", "union_roots")
#: torch functions that copy host arrays into tensors (a transfer, on a device).
TO_DEVICE = ("as_tensor", "from_numpy")
KINDS = sorted({*SYNCING.values(), "boolean-mask indexing", *HOST_METHODS.values(),
                "host union–find calls", "host → device (as_tensor, from_numpy)"})


class SyncCounter(TorchDispatchMode):
    """Counts every torch operator, and the syncing ones by kind."""

    def __init__(self, counts: Counter):
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts["torch operators"] += 1
        kind = SYNCING.get(func)
        if func is aten.repeat_interleave.Tensor and (kwargs or {}).get("output_size"):
            kind = None  # its length given: no synchronisation
        if func in (aten.index.Tensor, aten.index_put_.default, aten.index_put.default):
            indices = args[1]
            if any(i is not None and i.dtype == torch.bool for i in indices):
                kind = "boolean-mask indexing"
        if kind:
            self.counts[kind] += 1
        return func(*args, **(kwargs or {}))


@contextmanager
def counted(counts: Counter) -> Iterator[None]:
    """Count syncing operators, host round trips and host union–find calls (this
    thread's operators: run the engine with one worker)."""
    originals = {name: getattr(torch.Tensor, name) for name in HOST_METHODS}
    functions = {name: getattr(recompute, name) for name in HOST_UNION_FIND}
    transfers = {name: getattr(torch, name) for name in TO_DEVICE}

    def wrap(call: Callable, kind: str) -> Callable:
        def wrapped(*args, **kwargs):
            counts[kind] += 1
            return call(*args, **kwargs)
        return wrapped

    for name, call in originals.items():
        setattr(torch.Tensor, name, wrap(call, HOST_METHODS[name]))
    for name, call in functions.items():
        setattr(recompute, name, wrap(call, "host union–find calls"))
    for name, call in transfers.items():
        setattr(torch, name, wrap(call, "host → device (as_tensor, from_numpy)"))
    try:
        with SyncCounter(counts):
            yield
    finally:
        for name, call in originals.items():
            setattr(torch.Tensor, name, call)
        for name, call in functions.items():
            setattr(recompute, name, call)
        for name, call in transfers.items():
            setattr(torch, name, call)


def grid_sync_counts(points: np.ndarray, eps: list[float], intervals: int = 70
                     ) -> tuple[Counter, float]:
    """The counts of one grid, and its time under counting."""
    lens = mapper.l2_lens(points)
    covers = [mapper.make_cover(lens, intervals, p, "kmapper").members(lens) for p in OVERLAPS]
    counts: Counter = Counter()
    started = time.perf_counter()
    with counted(counts):
        for _ in engine.cluster_grid(points, covers, eps, 5, workers=1):
            pass
    return counts, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cloud", type=Path, help="activations store (zarr) or (N, C) .npy")
    parser.add_argument("--fixed-epsilon", type=float, default=4.0)
    parser.add_argument("--intervals", type=int, default=70)
    args = parser.parse_args()
    points = store.load_points(args.cloud)[0]
    estimate, _ = epsilon.estimate_epsilon(np.asarray(points), 5, max_points=50_000,
                                           exact_below=20_000)
    eps = [float(estimate.epsilon), args.fixed_epsilon]
    counts, seconds = grid_sync_counts(points, eps, args.intervals)
    print(f"cloud {args.cloud}: {points.shape[0]:,} x {points.shape[1]}, ε {eps[0]:.4g} and "
          f"{eps[1]:.4g}, overlaps {OVERLAPS}, {args.intervals} intervals; one worker, "
          f"{seconds:.1f} s under counting")
    syncing = sum(counts[kind] for kind in KINDS)
    print(f"| what | per grid |\n|---|---:|\n| torch operators | {counts['torch operators']:,} |")
    for kind in sorted(KINDS, key=lambda kind: -counts[kind]):
        print(f"| {kind} | {counts[kind]:,} |")
    print(f"| **synchronising in all** (all but torch operators) | **{syncing:,}** |")


if __name__ == "__main__":
    main()
