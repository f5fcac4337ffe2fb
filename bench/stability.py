"""Mapper stability (bootstrap): this engine against KeplerMapper, side by side.

The tool a user would otherwise pick has no bootstrap: they would rebuild the graph of
each resample with KeplerMapper + scikit-learn DBSCAN and compute its extended diagram.
Both sides here resample the same points (the same seeded draws), build every resample's
graph with the original graph's KeplerMapper cover (its ``limits`` fixed to the original
lens range; so the graphs must be equal, and the benchmark checks that the bootstrap
distances are), take the same gudhi extended diagrams and bottleneck
distances, and report d_α. This engine builds all resamples of a batch in one pass
(``mapper.resampled_graphs``); for reference, it also rebuilds them one at a time
(``mapper.rebuild``), as a per-resample loop over the engine would.

Where the time goes is printed for this engine: the original graph, the resampled graphs
(engine passes), the diagrams and the bottleneck distances.

Run: ``.venv/bin/python bench/stability.py [--cloud STORE] [--bootstrap 100] [--eps E]``
after ``make run`` (default cloud: random/conv3, 1,797 points; the issue's second case is
``--cloud results/activations/digits/digits-cnn/seed-0/full/conv3.zarr --bootstrap 20``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from topoact import epsilon, mapper, stability, store

ROOT = Path(__file__).resolve().parent.parent
CLOUD = ROOT / "results/activations/digits/digits-cnn/seed-0/random/conv3.zarr"


def kmapper_graph(points, lens, cover, eps, min_samples):
    """The KeplerMapper graph of a cloud as a MapperGraph (members, edges, lens)."""
    import kmapper as km
    from sklearn.cluster import DBSCAN

    n_cubes = cover["intervals"]
    result = km.KeplerMapper(verbose=0).map(
        lens.reshape(-1, 1), points, clusterer=DBSCAN(eps=eps, min_samples=min_samples),
        cover=km.Cover(n_cubes=n_cubes, perc_overlap=cover["overlap"],
                       limits=np.array([cover["limits"]])))
    nodes = [np.array(sorted(m)) for m in result["nodes"].values()]
    indptr = np.concatenate([[0], np.cumsum([len(m) for m in nodes])]).astype(np.int64)
    indices = np.concatenate(nodes) if nodes else np.zeros(0, np.int64)
    edges, intersection, jaccard = mapper.graph_edges(indptr, indices, len(points))
    return mapper.MapperGraph(indptr, indices, np.zeros(len(nodes), np.int32), None, lens,
                              edges, intersection, jaccard)


def ours(points, graph, bootstrap, seed) -> tuple[np.ndarray, dict[str, float]]:
    """Bootstrap distances through batched engine passes, timing each part."""
    times = {"resampled graphs": 0.0, "diagrams": 0.0, "bottleneck": 0.0}
    start = time.perf_counter()
    original = stability.graph_diagram(graph, representatives=True)
    times["diagrams"] += time.perf_counter() - start
    distances = []
    samples = stability.resamples(len(points), bootstrap, seed)  # the library's draws
    for first in range(0, bootstrap, 50):
        start = time.perf_counter()
        rebuilt = mapper.resampled_graphs(graph, points, samples[first:first + 50])
        times["resampled graphs"] += time.perf_counter() - start
        for one in rebuilt:
            start = time.perf_counter()
            diagram = stability.graph_diagram(one)
            times["diagrams"] += time.perf_counter() - start
            start = time.perf_counter()
            distances.append(stability.bottleneck(original, diagram))
            times["bottleneck"] += time.perf_counter() - start
    return np.array(distances), times


def one_at_a_time(points, graph, bootstrap, seed) -> np.ndarray:
    original = stability.graph_diagram(graph)
    return np.array([stability.bottleneck(original, stability.graph_diagram(
        mapper.rebuild(graph, points[s], graph.lens[s])))
        for s in stability.resamples(len(points), bootstrap, seed)])


def keplermapper(points, graph, bootstrap, seed) -> np.ndarray:
    original = stability.graph_diagram(graph)
    # The original graph's cover (KeplerMapper's ``limits``), as the bootstrap keeps it.
    cover = {"intervals": graph.params["intervals"], "overlap": graph.params["overlap"],
             "limits": [float(graph.lens.min()), float(graph.lens.max())]}
    distances = []
    for sample in stability.resamples(len(points), bootstrap, seed):
        rebuilt = kmapper_graph(points[sample], graph.lens[sample], cover,
                                graph.params["eps"], graph.params["min_samples"])
        distances.append(stability.bottleneck(original, stability.graph_diagram(rebuilt)))
    return np.array(distances)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", type=Path, default=CLOUD, help="activations store")
    parser.add_argument("--bootstrap", type=int, default=100, help="resamples B")
    parser.add_argument("--eps", type=float, help="DBSCAN ε (default: the knee estimate)")
    parser.add_argument("--intervals", type=int, default=70)
    parser.add_argument("--overlap", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-kmapper", action="store_true")
    parser.add_argument("--skip-single", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    points = store.read_activations(args.cloud).points
    eps = args.eps or epsilon.estimate_epsilon(points, k=5, exact_below=20_000)[0].epsilon
    print(f"{args.cloud}: {points.shape[0]:,} × {points.shape[1]}, ε = {eps:.4g}, "
          f"B = {args.bootstrap}, {args.intervals} intervals, overlap {args.overlap}, "
          f"KeplerMapper's cover; {platform.processor() or platform.machine()}, "
          f"{args.threads} threads")
    graph, build_time = timed(mapper.build_mapper, points, args.intervals, args.overlap, eps,
                              5, "kmapper")
    (distances, parts), total = timed(ours, points, graph, args.bootstrap, 0)
    d_alpha = stability.distance_at_confidence(distances, 0.9)
    print(f"original graph: {graph.n_nodes} nodes, {len(graph.edges)} edges "
          f"({build_time:.2f} s)")
    print(f"topoact (batched): {total:.2f} s, d_α(0.9) = {d_alpha:.4g}; "
          + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items()))
    if not args.skip_single:
        single, seconds = timed(one_at_a_time, points, graph, args.bootstrap, 0)
        assert np.array_equal(single, distances), "one-at-a-time distances differ"
        print(f"topoact (one rebuild at a time): {seconds:.2f} s "
              f"({seconds / total:.1f}× the batched time), same distances")
    if not args.skip_kmapper:
        theirs, seconds = timed(keplermapper, points, graph, args.bootstrap, 0)
        same = np.allclose(theirs, distances, atol=1e-9)
        print(f"KeplerMapper + scikit-learn DBSCAN per resample: {seconds:.2f} s "
              f"(ratio {seconds / total:.1f}×); distances {'equal' if same else 'DIFFER'}")
        assert same, "KeplerMapper's bootstrap distances differ"


if __name__ == "__main__":
    main()
