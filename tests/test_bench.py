"""The benchmarks a GPU session runs unattended (bench/gpu.sh) still run, on tiny data:
a script that breaks is found here, not in a device lease's few minutes."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import sync_count  # noqa: E402  (bench/sync_count.py)


def _run(*args: str) -> str:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_engine_profile_compares_labels_across_workers_and_slab_sizes(tmp_path, rng):
    centres = rng.normal(scale=6.0, size=(8, 12))
    points = (centres[rng.integers(0, 8, 3000)] + rng.normal(size=(3000, 12))).astype(
        np.float32)
    np.save(tmp_path / "cloud.npy", points)
    out = _run("bench/engine_profile.py", str(tmp_path / "cloud.npy"), "--device", "cpu",
               "--workers", "1", "2", "--slab-scales", "2", "--profiled", "2", "--top", "3")
    assert "cold (default workers)" in out
    # Two worker counts and one slab scale, each checked against the cold run's labels.
    assert out.count("same labels") == 3 and "LABELS DIFFER" not in out
    assert "the 2 intervals holding the most points" in out
    assert "torch.profiler:" in out and "aten::" in out
    assert "cProfile:" in out and "ncalls" in out


def test_extract_bench_measures_the_repeated_digits():
    out = _run("bench/extract.py", "--device", "cpu", "--copies", "2", "--samplings", "random",
               "--repeats", "1")
    assert out.startswith("3,594 images")  # 1,797 × 2 in one store
    rows = [parts for parts in map(str.split, out.splitlines())
            if len(parts) == 4 and parts[1] == "random"]
    assert [row[0] for row in rows] == ["conv1", "conv3", "fc1"]
    assert all(float(row[2]) > 0 and float(row[3]) > 0 for row in rows)
    assert "lowest ratio for random/top-l2" in out


LOG = """\
[Mon Dec  7 04:14:50 2026]
localrule train_model:
    jobid: 1
    threads: 2
[Mon Dec  7 04:15:00 2026]
Finished jobid: 1 (Rule: train_model)
[Mon Dec  7 04:15:00 2026]
localrule build_mapper:
    jobid: 2
    threads: 1
[Mon Dec  7 04:15:00 2026]
localrule graph_stability:
    jobid: 3
[Mon Dec  7 04:15:04 2026]
Finished jobid: 3 (Rule: graph_stability)
[Mon Dec  7 04:15:06 2026]
Finished jobid: 2 (Rule: build_mapper)
"""


def test_run_time_reads_each_jobs_threads_and_wall_time_from_the_log(tmp_path):
    (tmp_path / "run.log").write_text(LOG)
    out = _run("bench/run_time.py", "--log", str(tmp_path / "run.log"), "--cores", "2")
    assert "| models | 1 | 10 | 20 |" in out          # 10 s on two threads
    assert "| mapper | 1 | 6 | 6 |" in out and "| stability | 1 | 4 | 4 |" in out
    assert "| **all** | 3 | 20 | **30** |" in out
    # 16 s from the first start to the last end: 32 thread-seconds, 30 of them busy.
    assert "elapsed 16 s" in out and "idle thread-seconds 2 of 2" in out


def test_sync_count_counts_each_kind_of_host_wait(tmp_path, rng):
    counts: Counter = Counter()
    with sync_count.counted(counts):
        values = torch.arange(6.0)
        picked = values[values > 2]            # boolean-mask indexing
        picked.nonzero()                       # nonzero
        int(picked.sum())                      # .item()
        torch.as_tensor(np.arange(3)).numpy()  # host → device, then back
    assert counts["boolean-mask indexing"] == counts["nonzero"] == 1
    assert counts[".item() / int() / bool()"] == 1
    assert counts["host → device (as_tensor, from_numpy)"] == 1
    assert counts[".numpy() / .cpu() / .tolist()"] == 1
    assert torch.Tensor.numpy is not None and "wrapped" not in torch.Tensor.numpy.__name__
    # A whole grid, through the script.
    centres = rng.normal(scale=6.0, size=(8, 12))
    np.save(tmp_path / "cloud.npy", (centres[rng.integers(0, 8, 2000)]
                                     + rng.normal(size=(2000, 12))).astype(np.float32))
    out = _run("bench/sync_count.py", str(tmp_path / "cloud.npy"), "--intervals", "10")
    assert "| nonzero |" in out and "**synchronising in all**" in out


def test_cuml_bench_runs_its_backend_per_interval_and_compares_every_partition(tmp_path, rng):
    """bench/cuml_dbscan.py with scikit-learn in cuML's place (no cuML here): every
    interval's partition equals the engine's, and the timing line is printed."""
    centres = rng.normal(scale=5.0, size=(6, 10))
    points = (centres[rng.integers(0, 6, 1500)] + rng.normal(size=(1500, 10))).astype(
        np.float32)
    np.save(tmp_path / "cloud.npy", points)
    out = _run("bench/cuml_dbscan.py", str(tmp_path / "cloud.npy"), "--device", "cpu",
               "--backend", "sklearn", "--intervals", "12", "--epsilons", "2.0", "3.0")
    runs = int(out.split(": ")[1].split()[0])
    assert runs > 40 and f"intervals: {runs} same, 0 differ only in border points" in out
    assert "engine faster by" in out


def test_cuml_bench_tells_border_points_from_other_differences():
    import cuml_dbscan  # bench/cuml_dbscan.py

    # Two clusters of five cores; the point at 0.52 is within ε of a core of each.
    points = np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.52, 1.0, 1.01, 1.02, 1.03, 1.04])[:, None]
    ours = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    theirs = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # renumbered, border to the other
    assert cuml_dbscan.compare(ours, np.where(ours == 0, 1, 0), points, 0.49) == "same"
    assert cuml_dbscan.compare(ours, theirs, points, 0.49) == "border"
    split = np.array([0, 0, 2, 2, 2, 0, 1, 1, 1, 1, 1])
    assert cuml_dbscan.compare(ours, split, points, 0.49) == "differs"


def test_sliced_wasserstein_bench_compares_three_implementations(tmp_path, rng):
    """On three layers' diagrams (two batches, H0 and H1): the project's values equal
    persim's to rounding; gudhi's differ by its other directions, but not by more than
    the approximation's few percent."""
    from topoact.homology import LayerDiagrams
    from topoact.steps.homology import save_diagrams

    for name in ("a", "b", "c"):
        diagrams = [[np.sort(rng.uniform(0, 2, (20, 2)), axis=1),
                     np.sort(rng.uniform(0, 1, (6, 2)), axis=1)] for _ in range(2)]
        save_diagrams(tmp_path / f"{name}.npz", LayerDiagrams(name, diagrams,
                                                              np.arange(10).reshape(2, 5)))
    out = _run("bench/sliced_wasserstein.py", "--diagrams", str(tmp_path), "--directions", "20")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["0"], ["1"])]
    assert len(rows) == 2
    for row in rows:
        ours, gudhi = float(row[-2]), float(row[-1])
        assert ours < 1e-12 and 0 < gudhi < 0.1
