"""ε at scale: the query-subsample estimate against the whole cloud's ε.

For each subsample size, ``estimate_epsilon`` draws that many points and takes their
exact k-NN among all points; the reference is the whole cloud's curve, from exact k-NN
of every point (torch tiles: N² × C work) or PyNNDescent over every point. Prints ε,
the relative difference and the time of each.

Run: ``.venv/bin/python bench/epsilon.py STORE_OR_NPY [--sizes 50000 20000]
[--reference exact|pynndescent|none]`` after ``make run``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cloud", type=Path, help="activations store (*.zarr) or (N, C) .npy")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 20_000])
    parser.add_argument("--reference", choices=["exact", "pynndescent", "none"],
                        default="exact")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()

    from topoact import epsilon, store

    points = np.ascontiguousarray(store.load_points(args.cloud)[0], dtype=np.float32)
    print(f"{args.cloud}: {points.shape[0]:,} x {points.shape[1]}, k = {args.k}")
    reference = None
    if args.reference != "none":
        started = time.perf_counter()
        if args.reference == "exact":
            distances = epsilon.query_knn_distances(points, np.arange(len(points)), args.k)
            curve = np.sort(distances[:, args.k - 1])
            reference = float(curve[epsilon.knee_index(curve)])
        else:
            estimate, _ = epsilon.estimate_epsilon(points, args.k, None, n_jobs=2)
            reference = estimate.epsilon
        print(f"every point ({args.reference}): ε {reference:.5g}, "
              f"{time.perf_counter() - started:.1f} s", flush=True)
    for size in args.sizes:
        started = time.perf_counter()
        estimate, _ = epsilon.estimate_epsilon(points, args.k, size)
        difference = (f", {100 * (estimate.epsilon / reference - 1):+.1f} %"
                      if reference else "")
        print(f"{estimate.points_used:,} queries: ε {estimate.epsilon:.5g}{difference}, "
              f"{time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
