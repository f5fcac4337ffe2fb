"""Mapper graphs: this engine against KeplerMapper + scikit-learn DBSCAN, side by side.

On one real activation cloud (default: the largest ``full`` cloud the default config
extracts), both sides build the same graphs (KeplerMapper's cover, so the node sets must
be equal, and the benchmark checks that they are): first one graph (overlap 30 %,
adaptive ε), then the default grid (overlaps 20/30/50 × ε adaptive/fixed). Every graph
runs in a fresh subprocess under the same address-space limit, so peak memory (max RSS)
is measured per graph and a side that needs more than the limit fails with MemoryError
instead of taking the machine down; that is reported, not hidden.

Run: ``.venv/bin/python bench/mapper.py [--cloud STORE] [--limit-gb 16] [--skip-grid]``
after ``make run`` (it reads the activation stores under results/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORES = ROOT / "results/activations/digits/digits-cnn/seed-0/full"

CHILD = r"""
import json, resource, sys, time
limit = int(sys.argv[5]) << 30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import numpy as np
from topoact import mapper, store
side, path, overlap, eps = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
points = store.read_activations(path).points
lens = mapper.l2_lens(points)
started = time.perf_counter()
try:
    if side == "topoact":
        graph = mapper.build_mapper(points, 70, overlap, eps, 5, cover="kmapper", lens=lens)
        nodes = [graph.members(i).tolist() for i in range(graph.n_nodes)]
    else:
        import kmapper as km
        from sklearn.cluster import DBSCAN
        result = km.KeplerMapper(verbose=0).map(
            lens.reshape(-1, 1), points, clusterer=DBSCAN(eps=eps, min_samples=5),
            cover=km.Cover(n_cubes=70, perc_overlap=overlap))
        nodes = [sorted(m) for m in result["nodes"].values()]
    status = "ok"
except MemoryError:
    nodes, status = [], "MemoryError"
seconds = time.perf_counter() - started
digest = hash(tuple(sorted(tuple(n) for n in nodes)))
print(json.dumps({"status": status, "seconds": seconds, "nodes": len(nodes), "digest": digest,
                  "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def run_graph(side: str, cloud: Path, overlap: float, eps: float, limit_gb: int) -> dict:
    """Build one graph in a fresh process; its time, node count, digest and max RSS."""
    result = subprocess.run([sys.executable, "-c", CHILD, side, str(cloud), str(overlap),
                             str(eps), str(limit_gb)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed ({tail[:80]})", "seconds": float("nan"), "nodes": 0,
                "digest": None, "max_rss_gb": float("nan")}
    return json.loads(lines[-1])


def largest_full_cloud() -> Path:
    from topoact import store

    stores = sorted(STORES.glob("*.zarr"))
    if not stores:
        raise SystemExit(f"no activation stores under {STORES}: run `make run` first")

    def size(path):
        shape = store.open_store(path, "activations")["points"].shape
        return shape[0] * shape[1]

    return max(stores, key=size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", type=Path, help="activations store (default: largest full)")
    parser.add_argument("--limit-gb", type=int, default=16, help="address-space limit per graph")
    parser.add_argument("--fixed-epsilon", type=float, default=4.0,
                        help="the grid's fixed ε (the default config's)")
    parser.add_argument("--skip-grid", action="store_true", help="only the single graph")
    args = parser.parse_args()

    from topoact import epsilon, store

    cloud = args.cloud or largest_full_cloud()
    points = store.read_activations(cloud).points
    adaptive, _ = epsilon.estimate_epsilon(points, 5, max_points=50_000, exact_below=20_000)
    print(f"cloud {cloud.relative_to(ROOT) if cloud.is_relative_to(ROOT) else cloud}: "
          f"{points.shape[0]:,} x {points.shape[1]}, adaptive ε {adaptive.epsilon:.4g} "
          f"({adaptive.points_used:,} points), fixed ε {args.fixed_epsilon}")
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, python "
          f"{platform.python_version()}; limit {args.limit_gb} GB per graph")
    del points

    grid = [(0.3, "adaptive")]
    if not args.skip_grid:
        grid = [(p, e) for p in (0.2, 0.3, 0.5) for e in ("adaptive", "fixed")]
    totals = {"topoact": [0.0, 0.0], "kmapper": [0.0, 0.0]}
    failed = []
    print(f"{'graph':<30} {'side':<8} {'status':<12} {'nodes':>6} {'seconds':>8} {'max GB':>7}")
    for overlap, mode in grid:
        eps = adaptive.epsilon if mode == "adaptive" else args.fixed_epsilon
        name = f"overlap-{overlap * 100:g}-epsilon-{mode}"
        results = {side: run_graph(side, cloud, overlap, eps, args.limit_gb)
                   for side in ("topoact", "kmapper")}
        for side, r in results.items():
            print(f"{name:<30} {side:<8} {r['status']:<12} {r['nodes']:>6} "
                  f"{r['seconds']:>8.2f} {r['max_rss_gb']:>7.2f}", flush=True)
            totals[side][0] += r["seconds"]
            totals[side][1] = max(totals[side][1], r["max_rss_gb"])
        ours, theirs = results["topoact"], results["kmapper"]
        failed += [f"{side} on {name}" for side, r in results.items() if r["status"] != "ok"]
        if ours["status"] == theirs["status"] == "ok":
            same = "same graph" if ours["digest"] == theirs["digest"] else "GRAPHS DIFFER"
            print(f"{'':<30} ratio    time {theirs['seconds'] / ours['seconds']:.2f}x faster, "
                  f"memory {ours['max_rss_gb'] / theirs['max_rss_gb']:.2f} of KeplerMapper's "
                  f"({same})")
    (t_ours, m_ours), (t_km, m_km) = totals["topoact"], totals["kmapper"]
    if failed:
        print(f"no totals to compare: failed {', '.join(failed)}")
        return
    print(f"total over {len(grid)} graph(s): topoact {t_ours:.1f} s (max {m_ours:.2f} GB), "
          f"KeplerMapper {t_km:.1f} s (max {m_km:.2f} GB); time ratio "
          f"{t_km / t_ours:.2f}x, memory ratio {m_ours / m_km:.2f}")


if __name__ == "__main__":
    main()
