"""Mapper graphs: this engine against KeplerMapper + scikit-learn DBSCAN, side by side.

On one activation cloud (default: the largest ``full`` cloud the default config
extracts), both sides build the default grid (overlaps 20/30/50 % × ε adaptive/fixed,
70 intervals, KeplerMapper's cover so that the node sets must be equal, and the
benchmark checks that they are). KeplerMapper builds one graph per process, as a user
would call it; this engine builds the whole grid in one pass (``build_mapper_grid``), one
graph per process as the workflow's jobs do by default (``shared``: the first process
runs the layer's pass into a cache and writes every graph's files, the others copy
theirs; file writing, layouts included, is counted here but not on the other sides), and
one graph per process each built alone (``mapper.jobs: graph``). Every run is a
fresh subprocess; CPU runs are under the same address-space limit (not CUDA runs: a CUDA
context reserves far more address space than it uses and fails to start under one), so
a side that needs more than the limit fails with MemoryError instead of taking the
machine down; that is reported, not hidden. Its peak memory is reported as max RSS and
as the extra: the peak RSS after loading the cloud (imports included; the peak is reset
there through /proc/self/clear_refs) minus the RSS at that point. Each graph's node sets
are reduced to a digest (count and hash) as soon as it is built, so that the benchmark's
own Python lists of members, one graph's at a time, weigh the same on both sides.

``--synthetic N D`` replaces the cloud by N points in D dimensions made from the real
``full/conv3`` cloud: its points, drawn with replacement and jittered (σ = 1 % of the
cloud's spread), lifted by a fixed random matrix (128 × D, scaled to keep distances)
and a ReLU, so the clusters, norms and distances of real activations carry over. Each
conv3 point comes about N / 115,008 times, 1 % apart, so a point's k = 5 nearest
neighbours are mostly its own copies: the adaptive ε is the jitter's (0.13 at 460k),
far below conv3's 3.17, and the fixed ε (4) gives the conv3-like graphs.

Run: ``.venv/bin/python bench/mapper.py [--cloud STORE | --synthetic N D]
[--limit-gb 16] [--warm-up] [--skip-kmapper] [--skip-single]`` after ``make run``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STORES = ROOT / "results/activations/digits/digits-cnn/seed-0/full"
OVERLAPS = (0.2, 0.3, 0.5)

CHILD = r"""
import json, resource, sys, time
limit = int(sys.argv[6]) << 30
if sys.argv[1] == "kmapper" or sys.argv[5] == "cpu":  # a CUDA context reserves far more
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # address space than it uses
import numpy as np
import torch
from topoact import engine, mapper, store
from topoact.steps.mapper import GraphOutput, shared_grid_graph
torch.set_num_threads(int(sys.argv[7]))
side, path = sys.argv[1], sys.argv[2]
if side == "grid":  # as the workflow's jobs: the long grid pass tunes glibc's heap
    engine.tune_heap()
overlaps, epsilons = json.loads(sys.argv[3]), json.loads(sys.argv[4])
device = sys.argv[5]
if path.endswith(".npy"):
    points = np.ascontiguousarray(np.load(path, mmap_mode="r"))
else:
    points = store.read_activations(path).points
lens = mapper.l2_lens(points)
if side == "kmapper":
    import kmapper as km
    from sklearn.cluster import DBSCAN
def digest(nodes):
    # A graph's node sets as (count, hash): one graph's member lists exist at a time, so
    # the measured memory is the side's, not the benchmark's Python lists.
    return [len(nodes), hash(tuple(sorted(tuple(sorted(n)) for n in nodes)))]
def build(side, points, lens, overlaps, epsilons, stats):
    # The side's graphs as {"overlap/eps": digest of the node member sets}.
    found = {}
    if side == "grid":
        graphs = mapper.build_mapper_grid(points, 70, overlaps, epsilons, 5, "kmapper", lens,
                                          device=device, stats=stats)
        for (p, e), graph in graphs.items():
            found[f"{p}/{e}"] = digest([graph.members(i).tolist()
                                        for i in range(graph.n_nodes)])
        return found
    (p,), (e,) = overlaps, epsilons
    if side == "shared":  # as a workflow job (mapper.jobs: shared), writing its files
        import tempfile
        from pathlib import Path
        out = Path(tempfile.mkdtemp())
        layer = [GraphOutput(q, f, None, None, None, {"name": f"{q}-{f}"})
                 for q, f in json.loads(sys.argv[10])]
        shared_grid_graph(
            path, sys.argv[9], GraphOutput(p, e, out / "g.zarr", out / "g.json",
                                    out / "g.kmapper.json", {"name": f"{p}-{e}"}),
            layer, intervals=70, min_samples=5, cover="kmapper", device=device,
            threads=int(sys.argv[7]))
        graph = store.read_graph(out / "g.zarr")[0]
        found[f"{p}/{e}"] = digest([graph.members(i).tolist() for i in range(graph.n_nodes)])
    elif side == "single":
        graph = mapper.build_mapper(points, 70, p, e, 5, cover="kmapper", lens=lens,
                                    device=device, stats=stats)
        found[f"{p}/{e}"] = digest([graph.members(i).tolist() for i in range(graph.n_nodes)])
    else:
        result = km.KeplerMapper(verbose=0).map(
            lens.reshape(-1, 1), points, clusterer=DBSCAN(eps=e, min_samples=5),
            cover=km.Cover(n_cubes=70, perc_overlap=p))
        found[f"{p}/{e}"] = digest(list(result["nodes"].values()))
    return found
if sys.argv[8] == "warm" and side != "shared":  # once on a slice: library code paged in
    # (not the shared side: it reads its cloud from the path, into the layer's cache)
    build(side, points[:2000], lens[:2000], overlaps, epsilons, engine.EngineStats())
def status_gb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key)) / 2**20
try:  # Linux: reset the peak RSS, so that "extra" is measured from the loaded state
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    baseline, peak_key = status_gb("VmRSS"), "VmHWM"
except OSError:  # elsewhere: from the peak so far (a lower bound of the extra)
    baseline, peak_key = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, None
started = time.perf_counter()
stats = engine.EngineStats()
digests = {}
try:
    digests = build(side, points, lens, overlaps, epsilons, stats)
    status = "ok"
except MemoryError:
    status = "MemoryError"
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
extra = (status_gb(peak_key) if peak_key else peak) - baseline
print(json.dumps({"status": status, "seconds": seconds, "digests": digests,
                  "max_rss_gb": peak, "extra_gb": extra, "stats": vars(stats)}))
"""


def run(side: str, cloud: Path, overlaps, epsilons, args, *extra: str) -> dict:
    """One subprocess: its time, graph digests and memory."""
    command = [sys.executable, "-c", CHILD, side, str(cloud), json.dumps(list(overlaps)),
               json.dumps(list(epsilons)), args.device, str(args.limit_gb), str(args.threads),
               "warm" if args.warm_up else "cold", *extra]
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed ({tail[:80]})", "seconds": float("nan"), "digests": {},
                "max_rss_gb": float("nan"), "extra_gb": float("nan"), "stats": {}}
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


def synthetic_cloud(count: int, dimensions: int, folder: Path) -> Path:
    """Real conv3 activations resampled, jittered and lifted to ``dimensions`` (a .npy)."""
    from topoact import store

    source = store.read_activations(STORES / "conv3.zarr").points
    rng = np.random.default_rng(0)
    lift = rng.standard_normal((source.shape[1], dimensions)).astype(np.float32)
    lift *= np.sqrt(2.0 / dimensions)  # ReLU halves the energy: keeps norms comparable
    spread = 0.01 * source.std(axis=0)
    path = folder / f"synthetic-{count}x{dimensions}.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(count, dimensions))
    for start in range(0, count, 50_000):
        rows = source[rng.integers(0, len(source), min(50_000, count - start))]
        rows = rows + rng.standard_normal(rows.shape).astype(np.float32) * spread
        out[start:start + len(rows)] = np.maximum(rows @ lift, 0)
    out.flush()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", type=Path, help="activations store (default: largest full)")
    parser.add_argument("--synthetic", type=int, nargs=2, metavar=("N", "D"),
                        help="a lifted real cloud of N points in D dimensions instead")
    parser.add_argument("--limit-gb", type=int, default=16, help="address-space limit per run")
    parser.add_argument("--adaptive-epsilon", type=float,
                        help="use this adaptive ε instead of estimating it (large clouds)")
    parser.add_argument("--fixed-epsilon", type=float, default=4.0,
                        help="the grid's fixed ε (the default config's)")
    parser.add_argument("--device", default="cpu", help="the engine's device (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--warm-up", action="store_true",
                        help="run each side once on 2,000 points before measuring, so that "
                        "the extra memory leaves out library code paged in on first use")
    parser.add_argument("--skip-kmapper", action="store_true", help="this engine only")
    parser.add_argument("--skip-single", action="store_true",
                        help="only the whole-grid run of this engine, not one graph per run")
    parser.add_argument("--one-graph", action="store_true",
                        help="only one graph of this engine (overlap 30 %%, adaptive ε)")
    args = parser.parse_args()

    # The synthetic cloud (GBs at scale) lives only as long as the benchmark.
    with tempfile.TemporaryDirectory(prefix="topoact-bench-") as folder:
        measure(args, Path(folder))


def measure(args: argparse.Namespace, folder: Path) -> None:
    """Print the side-by-side table for the cloud ``args`` name (made in ``folder``)."""
    from topoact import epsilon

    if args.synthetic:
        cloud = synthetic_cloud(*args.synthetic, folder)
        points = np.load(cloud, mmap_mode="r")
    else:
        from topoact import store

        cloud = args.cloud or largest_full_cloud()
        points = store.read_activations(cloud).points
    if args.adaptive_epsilon:
        adaptive, source = args.adaptive_epsilon, "given"
    else:
        estimate, _ = epsilon.estimate_epsilon(np.asarray(points), 5, max_points=50_000,
                                               exact_below=20_000)
        adaptive, source = estimate.epsilon, f"{estimate.points_used:,} points"
    epsilons = [float(adaptive), float(args.fixed_epsilon)]
    name = cloud.relative_to(ROOT) if cloud.is_relative_to(ROOT) else cloud.name
    print(f"cloud {name}: {points.shape[0]:,} x {points.shape[1]} "
          f"({points.nbytes / 2**30:.2f} GB), ε adaptive {epsilons[0]:.4g} "
          f"({source}), fixed {epsilons[1]:.4g}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; engine on {args.device}, {args.threads} threads; "
          f"limit {args.limit_gb} GB per CPU run")
    del points

    if args.one_graph:
        result = run("single", cloud, [0.3], epsilons[:1], args)
        nodes = sum(v[0] for v in result["digests"].values())
        print(f"one graph (overlap 30 %, adaptive ε): {result['status']}, {nodes} nodes, "
              f"{result['seconds']:.1f} s, max {result['max_rss_gb']:.2f} GB (extra "
              f"{result['extra_gb']:.2f} GB); counters {result['stats']}")
        return
    rows = []
    grid = run("grid", cloud, OVERLAPS, epsilons, args)
    rows.append(("whole grid, one pass", "topoact", grid))
    singles, theirs = {}, {}
    for overlap in OVERLAPS:
        for e in epsilons:
            key = f"{overlap}/{e}"
            if not args.skip_single:
                singles[key] = run("single", cloud, [overlap], [e], args)
                rows.append((key, "topoact", singles[key]))
            if not args.skip_kmapper:
                theirs[key] = run("kmapper", cloud, [overlap], [e], args)
                rows.append((key, "kmapper", theirs[key]))
            print(f"  ... {key} done", flush=True)
    # The workflow's default jobs (mapper.jobs: shared): one process per graph, the first
    # running the layer's pass into a cache that the others copy from.
    shared = {}
    if not args.skip_single:
        grid_json = json.dumps([[o, e] for o in OVERLAPS for e in epsilons])
        with tempfile.TemporaryDirectory(prefix="topoact-pass-") as cache:
            for overlap in OVERLAPS:
                for e in epsilons:
                    key = f"{overlap}/{e}"
                    shared[key] = run("shared", cloud, [overlap], [e], args, cache, grid_json)
                    rows.append((key, "shared", shared[key]))
    print(f"{'graph':<28} {'side':<8} {'status':<12} {'nodes':>6} {'seconds':>8} "
          f"{'max GB':>7} {'extra GB':>8}")
    for label, side, r in rows:
        nodes = sum(v[0] for v in r["digests"].values())
        print(f"{label:<28} {side:<8} {r['status']:<12} {nodes:>6} {r['seconds']:>8.1f} "
              f"{r['max_rss_gb']:>7.2f} {r['extra_gb']:>8.2f}")
    print(f"engine counters (grid): {grid['stats']}")

    def total(results):
        ok = all(r["status"] == "ok" for r in results.values())
        return (sum(r["seconds"] for r in results.values()),
                max(r["max_rss_gb"] for r in results.values()),
                max(r["extra_gb"] for r in results.values()), ok)

    if singles:
        seconds, peak, extra, ok = total(singles)
        print(f"topoact, one graph per run: {seconds:.1f} s, max {peak:.2f} GB "
              f"(extra {extra:.2f} GB){'' if ok else ' (some failed)'}")
    if shared:
        seconds, peak, extra, ok = total(shared)
        print(f"topoact, one graph per run from the layer's shared pass (files written): "
              f"{seconds:.1f} s, max {peak:.2f} GB (extra {extra:.2f} GB)"
              f"{'' if ok else ' (some failed)'}")
    if theirs:
        seconds, peak, extra, ok = total(theirs)
        if not ok:
            print("KeplerMapper failed on: " + ", ".join(
                k for k, r in theirs.items() if r["status"] != "ok"))
            return
        same = all(grid["digests"].get(k) == r["digests"].get(k) for k, r in theirs.items())
        print(f"KeplerMapper: {seconds:.1f} s, max {peak:.2f} GB (extra {extra:.2f} GB)")
        print(f"ratio (grid): {seconds / grid['seconds']:.2f}x faster, peak memory "
              f"{grid['max_rss_gb'] / peak:.2f} of KeplerMapper's, extra memory "
              f"{grid['extra_gb'] / extra:.2f} of its extra; "
              f"{'same graphs' if same else 'GRAPHS DIFFER'}")
        if singles:
            mine = total(singles)[0]
            print(f"ratio (one graph per run, mapper.jobs: graph): {seconds / mine:.2f}x")
        if shared:
            same = all(shared[k]["digests"] == r["digests"] for k, r in theirs.items())
            print(f"ratio (one graph per run from the layer's pass, mapper.jobs: shared, the "
                  f"default): {seconds / total(shared)[0]:.2f}x; "
                  f"{'same graphs' if same else 'GRAPHS DIFFER'}")


if __name__ == "__main__":
    main()
