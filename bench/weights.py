"""Weight-space stage: the whole stage on the embedded default, and its mapper graphs
against KeplerMapper + scikit-learn DBSCAN.

Part 1 runs the stage's Snakemake targets (trainings with snapshots, points, dense
cores, sweep and dynamics) in a fresh temporary directory holding only the digits
images store, with the repository's config.yaml, and reports the wall time (target:
≤ 2 min on 2 cores, trainings included) and each rule's job-seconds from the
``benchmark:`` files. Part 2 rebuilds every dense core's mapper graph in this process,
once with this project's engine and once with KeplerMapper (same 2-D PCA lens, same
cover, same DBSCAN ε), checks that the node sets are equal (or differ only by a pair at
exactly ε, which scikit-learn's rounding can leave out), and prints the time ratio.

Run: ``.venv/bin/python bench/weights.py`` (it makes the images store when missing).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent


def run_stage(work: Path, config: dict) -> tuple[float, pd.DataFrame]:
    """Run the weight-space targets in ``work``; wall time and job-seconds by rule."""
    from topoact.config import validate_config

    validate_config(config, ROOT / "workflow/schemas/config.schema.yaml")
    images = ROOT / "results/data/digits.zarr"
    if not images.exists():
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2",
                        str(images.relative_to(ROOT))], cwd=ROOT, check=True,
                       capture_output=True)
    shutil.copytree(images, work / "results/data/digits.zarr")
    targets = []
    for analysis in config["weights"]["analyses"]:
        for layer in analysis["layers"]:
            base = f"results/weights/{analysis['model']}/{layer}"
            targets += [f"{base}/h1-bars.tsv", f"{base}/barcodes.png", f"{base}/dynamics.png"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                    "--directory", str(work), "--configfile", str(ROOT / "config.yaml"),
                    "--cores", "2", *targets], cwd=work, check=True,
                   capture_output=True)
    wall = time.perf_counter() - started
    rows = []
    for path in (work / "results/benchmarks/weights").rglob("*.tsv"):
        record = pd.read_csv(path, sep="\t").iloc[0]
        rule = {"trainings.tsv": "train_weight_snapshots", "points.tsv": "weight_points",
                "sweep.tsv": "weight_sweep", "dynamics.tsv": "weight_dynamics"}.get(
                    path.name, "weight_core")
        rows.append({"rule": rule, "seconds": float(record["s"])})
    return wall, pd.DataFrame(rows).groupby("rule")["seconds"].agg(["count", "sum"])


def compare_mapper(work: Path, config: dict) -> pd.DataFrame:
    """Every dense core's graph: this engine vs KeplerMapper, same cover and ε."""
    import kmapper
    from sklearn.cluster import DBSCAN

    from topoact import mapper, store

    settings = config["weights"]["mapper"]
    n, overlap = settings["intervals"], settings["overlap"] / 100
    rows = []
    for graph_path in sorted((work / "results/weights").rglob("mapper.zarr")):
        graph, _, attrs = store.read_graph(graph_path)
        points = store.read_weight_points(graph_path.parent / "dense.zarr")[0]
        eps, min_samples = graph.params["eps"], graph.params["min_samples"]
        lens = mapper.make_lens(points, settings["lens"])
        started = time.perf_counter()
        ours = mapper.build_mapper(points, n, overlap, eps, min_samples, settings["cover"],
                                   lens=lens, lens_name=settings["lens"])
        ours_time = time.perf_counter() - started
        started = time.perf_counter()
        theirs = kmapper.KeplerMapper(verbose=0).map(
            lens, points, cover=kmapper.Cover(n, overlap),
            clusterer=DBSCAN(eps=eps, min_samples=min_samples))
        theirs_time = time.perf_counter() - started
        ours_nodes = {k: sorted(v) for k, v in mapper.kmapper_json(ours)["nodes"].items()}
        same = ours_nodes == {k: sorted(v) for k, v in theirs["nodes"].items()}
        if not same:
            # The knee ε is one pair's exact distance: the engine counts that pair (≤ ε,
            # decided in float64) while scikit-learn's rounded distance can exceed ε.
            # Equal with ε one part in 10⁶ larger means the graphs differ by such ties only.
            wider = kmapper.KeplerMapper(verbose=0).map(
                lens, points, cover=kmapper.Cover(n, overlap),
                clusterer=DBSCAN(eps=eps * (1 + 1e-6), min_samples=min_samples))
            if ours_nodes == {k: sorted(v) for k, v in wider["nodes"].items()}:
                same = "ties at ε"
        rows.append({"core": str(graph_path.parent.relative_to(work / "results/weights")),
                     "points": len(points), "nodes": ours.n_nodes, "same_nodes": same,
                     "engine_s": ours_time, "kmapper_s": theirs_time})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary run folder")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} "
          f"cores, python {platform.python_version()}")
    work = Path(tempfile.mkdtemp(prefix="bench-weights-"))
    try:
        wall, by_rule = run_stage(work, config)
        print(f"\nweight-space stage on the embedded default: {wall:.1f} s wall (target ≤ 120 s)")
        print(by_rule.to_string(float_format=lambda v: f"{v:.1f}"))
        table = compare_mapper(work, config)
        print("\nmapper graphs of the dense cores: engine vs KeplerMapper + DBSCAN")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        engine, kmapper_total = table["engine_s"].sum(), table["kmapper_s"].sum()
        print(f"all {len(table)} graphs: engine {engine:.3f} s, KeplerMapper "
              f"{kmapper_total:.3f} s, ratio {kmapper_total / engine:.2f}x; node sets equal: "
              f"{int((table['same_nodes'] == True).sum())}, equal up to pairs at exactly ε: "  # noqa: E712
              f"{int((table['same_nodes'] == 'ties at ε').sum())}, different: "
              f"{int((table['same_nodes'] == False).sum())}")  # noqa: E712
    finally:
        if args.keep:
            print(f"run kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
