"""The engine's grid against RAPIDS cuML's DBSCAN run interval by interval (the GPU anchor).

A user with a GPU who wants mapper graphs without this engine would cluster each cover
interval with cuML's DBSCAN (``cuml.cluster.DBSCAN``, brute-force float32 distances on
the device). This bench does exactly that on the same cover as the engine (KeplerMapper's,
70 intervals, overlaps 20/30/50 %, every ε given), timing cuML per interval (the points
already on the device, the device synchronised after each fit), and the engine's whole
grid in one pass; it prints the engine's time over cuML's and compares every interval's
clusters (the node sets: noise and cluster numbers aside, the same partition).

cuML's results can differ from the engine's in two documented ways, counted apart:
a border point within ε of cores of two clusters goes to whichever cluster cuML's
parallel labelling reaches first (scikit-learn's and the engine's rule: the first core
in index order), and pairs at a distance within float32 rounding of ε may fall on either
side (the engine rechecks them in float64). An interval is "same" when the partitions
are equal, "border" when they are equal after such border points are left out, else
"differs".

``--backend sklearn`` runs scikit-learn's DBSCAN in cuML's place (a dry check on a
machine without cuML; the differences are then none).

Run: ``python bench/cuml_dbscan.py CLOUD [--device cuda] [--epsilons 3.1689 4.0]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from topoact import engine, mapper, store


def dbscan_backend(name: str, min_samples: int) -> Callable[[np.ndarray, float], np.ndarray]:
    """``fit(points, eps) -> labels``: cuML's DBSCAN on the device, or scikit-learn's."""
    if name == "sklearn":
        from sklearn.cluster import DBSCAN

        return lambda points, eps: DBSCAN(eps=eps, min_samples=min_samples).fit_predict(points)
    import cupy
    from cuml.cluster import DBSCAN as CumlDBSCAN

    def fit(points, eps):
        labels = CumlDBSCAN(eps=eps, min_samples=min_samples, output_type="numpy",
                            calc_core_sample_indices=False).fit_predict(points)
        cupy.cuda.runtime.deviceSynchronize()
        return np.asarray(labels)

    return fit


def on_device(name: str, points: np.ndarray):
    """The points where the backend reads them (a CuPy array for cuML: no copy timed)."""
    if name == "sklearn":
        return points
    import cupy

    return cupy.asarray(points)


def partition(labels: np.ndarray, keep: np.ndarray | None = None) -> set[frozenset[int]]:
    """The clusters of ``labels`` as sets of positions (noise left out), optionally only
    the positions in ``keep``."""
    positions = np.arange(len(labels)) if keep is None else np.flatnonzero(keep)
    chosen = labels[positions]
    return {frozenset(positions[chosen == c].tolist()) for c in np.unique(chosen[chosen >= 0])}


def compare(ours: np.ndarray, theirs: np.ndarray, points: np.ndarray, eps: float) -> str:
    """``same``, ``border`` (equal on the core points and on the noise) or ``differs``."""
    if partition(ours) == partition(theirs):
        return "same"
    core = core_points(points, eps, 5)
    if partition(ours, core) == partition(theirs, core) and ((ours < 0) == (theirs < 0)).all():
        return "border"
    return "differs"


def core_points(points: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """Which points are core (≥ min_samples within ε, itself included), in float64."""
    from sklearn.neighbors import NearestNeighbors

    counts = NearestNeighbors(radius=eps).fit(points).radius_neighbors(
        points, return_distance=False)
    return np.array([len(c) >= min_samples for c in counts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cloud", help="an activations store (or .npy)")
    parser.add_argument("--device", default="cuda", help="the engine's device")
    parser.add_argument("--backend", choices=["cuml", "sklearn"], default="cuml")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[3.1689, 4.0])
    parser.add_argument("--overlaps", type=float, nargs="+", default=[0.2, 0.3, 0.5])
    parser.add_argument("--intervals", type=int, default=70)
    args = parser.parse_args()
    points = np.ascontiguousarray(store.load_points(args.cloud)[0], dtype=np.float32)
    lens = mapper.l2_lens(points)
    members = [mapper.make_cover(lens, args.intervals, p, "kmapper").members(lens)
               for p in args.overlaps]
    fit = dbscan_backend(args.backend, 5)
    fit(on_device(args.backend, points[:64]), args.epsilons[0])  # warm-up: kernels, pools
    started = time.perf_counter()
    ours = dict(engine.cluster_grid(points, members, args.epsilons, 5, device=args.device))
    ours_s = time.perf_counter() - started
    theirs_s, verdicts = 0.0, {"same": 0, "border": 0, "differs": 0}
    for p, cover in enumerate(members):
        for i, rows in enumerate(cover):
            if len(rows) < 5:
                continue
            interval = on_device(args.backend, points[rows])
            for e, eps in enumerate(args.epsilons):
                started = time.perf_counter()
                labels = fit(interval, eps)
                theirs_s += time.perf_counter() - started
                verdicts[compare(ours[i][p][e], labels, points[rows], eps)] += 1
    runs = sum(verdicts.values())
    print(f"{len(points):,} × {points.shape[1]} points, {len(members)} covers × "
          f"{args.intervals} intervals × {len(args.epsilons)} ε: {runs} DBSCAN runs")
    print(f"engine grid ({args.device}): {ours_s:.2f} s; {args.backend} per interval: "
          f"{theirs_s:.2f} s; engine faster by {theirs_s / ours_s:.2f}×")
    print(f"intervals: {verdicts['same']} same, {verdicts['border']} differ only in border "
          f"points, {verdicts['differs']} differ")


if __name__ == "__main__":
    main()
