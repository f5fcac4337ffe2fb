"""Peak memory of a sharded mapper grid: the plan, each shard and the gather, for N shards.

``mapper.shards: N`` splits one cloud's grid by cover intervals into N jobs (see
``topoact.shards``). This bench runs the three kinds of job, each as its own process,
exactly as the workflow's scripts call them, on the cloud of ``bench/mapper.py
--synthetic`` written as an activations store, and reads each process's peak resident
memory from the kernel: its ``VmHWM`` as it ends, the peak of the program itself
(``wait4``'s ``ru_maxrss`` would also count the copy of this script's memory that the
fork made before the exec; Snakemake's ``benchmark:`` files sample the same RSS as
``max_rss``). Shards run ``--parallel`` at a time, one thread each (a job alone gets
``--parallel`` threads). As a reference it also runs the one job that builds the grid
from the whole cloud in memory (``mapper.jobs: grid``), and checks that the gathered
graphs equal that job's.

Run: ``.venv/bin/python bench/shards.py [--points 1000000] [--dims 128] [--shards 1 4 16]
[--overlaps 30] [--epsilon 3.1689]`` after ``make run`` (the synthetic cloud is made from
``full/conv3``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mapper import synthetic_cloud  # bench/mapper.py: real activations, lifted

from topoact import store
from topoact.steps.mapper import GraphOutput, mapper_grid_for_store
from topoact.steps.shards import PLAN, gather_for_store, plan_for_store, shard_for_store


def write_store(npy: Path, path: Path) -> None:
    """The .npy cloud as an activations store (one class), written a block at a time."""
    points = np.load(npy, mmap_mode="r")
    with store.atomic_group(path, "activations", {"classes": ["synthetic"]}) as group:
        writer = store.ActivationWriter(group, len(points), points.shape[1])
        for start in range(0, len(points), 65536):
            block = np.asarray(points[start:start + 65536])
            rows = np.arange(start, start + len(block))
            writer.append(block, rows, np.zeros((len(block), 2)), np.zeros(len(block), np.int16))
        writer.close()


def outputs(folder: Path, overlaps: list[float], eps: float) -> list[GraphOutput]:
    return [GraphOutput(p, eps, folder / f"g{k}.zarr", folder / f"g{k}.json",
                        folder / f"g{k}.kmapper.json", {"name": f"g{k}"})
            for k, p in enumerate(overlaps)]


def peak_rss_gb() -> float:
    """This process's peak resident memory since its exec (``VmHWM``), in GB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 2**20


def step(args: argparse.Namespace) -> None:
    """One job, in this process (the child of :func:`measure`); prints its peak memory."""
    work, overlaps = Path(args.work), [p / 100 for p in args.overlaps]
    cloud, plan = work / "cloud.zarr", work / f"n{args.count}/plan.zarr"
    if args.step == "one":
        mapper_grid_for_store(cloud, outputs(work / "one", overlaps, args.epsilon),
                              intervals=70, min_samples=5, cover="kmapper",
                              progress=False, threads=args.threads)
    elif args.step == "plan":
        plan_for_store(cloud, plan, intervals=70, overlaps=overlaps, cover="kmapper",
                       shards=args.count)
    elif args.step == "shard":
        shard_for_store(cloud, plan, args.shard, work / f"n{args.count}/s{args.shard}.zarr",
                        epsilons=[args.epsilon], min_samples=5, threads=args.threads)
    else:
        nodes = [work / f"n{args.count}/s{s}.zarr" for s in range(args.count)]
        gather_for_store(cloud, plan, nodes, outputs(work / f"n{args.count}", overlaps,
                                                      args.epsilon),
                         min_samples=5, threads=args.threads)
    print(f"peak {peak_rss_gb()}")


def measure(args: argparse.Namespace, name: str, jobs: list[list[str]]) -> list[dict]:
    """Run ``jobs`` (this script's step arguments), ``--parallel`` at a time; each one's
    wall time and peak memory."""
    # Every core busy: one job alone gets them all, shards share them.
    threads = max(1, args.parallel // min(len(jobs), args.parallel))
    base = [sys.executable, __file__, "--work", args.work, "--epsilon", str(args.epsilon),
            "--threads", str(threads), "--overlaps", *map(str, args.overlaps)]
    waiting, running, done = list(jobs), {}, []
    while waiting or running:
        while waiting and len(running) < args.parallel:
            job = waiting.pop(0)
            process = subprocess.Popen([*base, *job], stdout=subprocess.PIPE, text=True)
            running[process.pid] = (job, process, time.perf_counter())
        pid, status = os.wait()
        job, process, started = running.pop(pid)
        if status != 0:
            raise SystemExit(f"{name} {job} failed ({status})")
        peak = float(process.stdout.read().split("peak ")[-1])
        done.append({"step": name, "job": " ".join(job), "s": time.perf_counter() - started,
                     "max_rss_gb": peak})
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--overlaps", type=float, nargs="+", default=[30.0])
    parser.add_argument("--epsilon", type=float, default=3.1689)
    parser.add_argument("--parallel", type=int, default=2,
                        help="shard jobs at once (one job alone gets as many threads)")
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=["one", "plan", "shard", "gather"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        return step(args)
    with tempfile.TemporaryDirectory() as work:
        args.work = work
        write_store(synthetic_cloud(args.points, args.dims, Path(work)),
                    Path(work) / "cloud.zarr")
        os.unlink(Path(work) / f"synthetic-{args.points}x{args.dims}.npy")
        rows = measure(args, "one job", [["--step", "one"]])
        single = [store.read_arrays(Path(work) / f"one/g{k}.zarr", "mapper")[0]
                  for k in range(len(args.overlaps))]
        for count in args.shards:
            n = ["--count", str(count)]
            rows += measure(args, f"N={count} plan", [["--step", "plan", *n]])
            plan = store.read_arrays(Path(work) / f"n{count}/plan.zarr", PLAN,
                                     ("rows_indptr",))[0]
            largest = int(np.diff(plan["rows_indptr"]).max())
            print(f"N={count}: the largest shard reads {largest:,} of {args.points:,} rows",
                  flush=True)
            rows += measure(args, f"N={count} shards",
                            [["--step", "shard", "--shard", str(s), *n] for s in range(count)])
            rows += measure(args, f"N={count} gather", [["--step", "gather", *n]])
            for k, graph in enumerate(single):
                gathered = store.read_arrays(Path(work) / f"n{count}/g{k}.zarr", "mapper")[0]
                for name, values in graph.items():
                    np.testing.assert_array_equal(gathered[name], values, err_msg=name)
            print(f"N={count}: the gathered graphs equal the one job's", flush=True)
    for row in rows:
        print(json.dumps(row))
    print("\n| step | jobs | wall s (sum) | max RSS GB (largest job) |\n|---|---|---|---|")
    for name in dict.fromkeys(row["step"] for row in rows):
        chosen = [row for row in rows if row["step"] == name]
        print(f"| {name} | {len(chosen)} | {sum(r['s'] for r in chosen):.1f} | "
              f"{max(r['max_rss_gb'] for r in chosen):.2f} |")


if __name__ == "__main__":
    main()
