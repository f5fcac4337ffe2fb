"""ε at scale: the large-cloud estimators against the whole cloud's exact ε.

``cells`` (the default for clouds above ``epsilon.max_points``) gives every point a
k-distance among the points of its nearest k-means cells and makes the largest exact;
``queries`` draws a subsample of points and takes their exact k-NN among all points.
The reference is the whole cloud's curve from exact k-NN of every point (torch tiles,
N² × C work; ``--reference-file`` keeps its k-distances for the next run) or PyNNDescent
over every point. Prints ε, the difference from the reference, the time of each and the
speed-up over the reference.

Run: ``.venv/bin/python bench/epsilon.py STORE_OR_NPY [--sizes 50000 20000]
[--reference exact|pynndescent|none] [--reference-file K.npy] [--device cuda]`` after
``make run``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def reference_epsilon(points: np.ndarray, args: argparse.Namespace) -> tuple[float, float]:
    """The whole cloud's ε and the seconds it took (0 when read from a file)."""
    from topoact import epsilon

    started = time.perf_counter()
    if args.reference == "pynndescent":
        return (epsilon.estimate_epsilon(points, args.k, None, n_jobs=2)[0].epsilon,
                time.perf_counter() - started)
    file = args.reference_file
    if file is not None and file.exists():
        kth, seconds = np.load(file), 0.0
    else:
        kth = epsilon.query_knn_distances(points, np.arange(len(points)), args.k,
                                          args.device)[:, args.k - 1]
        seconds = time.perf_counter() - started
        if file is not None:
            np.save(file, kth)
    curve = np.sort(kth)
    return float(curve[epsilon.knee_index(curve)]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cloud", type=Path, help="activations store (*.zarr) or (N, C) .npy")
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000, 20_000],
                        help="query subsamples to run (none: only the cells estimator)")
    parser.add_argument("--reference", choices=["exact", "pynndescent", "none"],
                        default="exact")
    parser.add_argument("--reference-file", type=Path,
                        help="the exact k-distances: read if it exists, else computed and saved")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--device", default="cpu",
                        help="where the exact reference, the cells and the queries run")
    args = parser.parse_args()

    from topoact import epsilon, store

    points = np.ascontiguousarray(store.load_points(args.cloud)[0], dtype=np.float32)
    print(f"{args.cloud}: {points.shape[0]:,} x {points.shape[1]}, k = {args.k}")
    reference, reference_s = None, 0.0
    if args.reference != "none":
        reference, reference_s = reference_epsilon(points, args)
        timing = f"{reference_s:.1f} s" if reference_s else "read from file"
        print(f"every point ({args.reference}): ε {reference:.5g}, {timing}", flush=True)
    runs = [("cells", 1)] + [("queries", size) for size in args.sizes]
    for large, size in runs:
        started = time.perf_counter()
        estimate, _ = epsilon.estimate_epsilon(points, args.k, size, large=large,
                                               device=args.device)
        seconds = time.perf_counter() - started
        line = f"{large} ({estimate.points_used:,} points): ε {estimate.epsilon:.5g}"
        if reference:
            line += f", {100 * (estimate.epsilon / reference - 1):+.2f} %"
        line += f", {seconds:.1f} s"
        if reference_s:
            line += f" ({reference_s / seconds:.1f}x faster)"
        print(f"{line}; {estimate.neighbours}", flush=True)


if __name__ == "__main__":
    main()
