"""Real Snakemake runs of the workflow that each need a directory of their own.

They share nothing with ``test_workflow.py``'s finished run, so they live in their own
module: ``make test`` runs test files side by side (pytest-xdist, one file per worker),
and this module then runs beside that one's shared run.
"""

import os
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from test_workflow import GRAPH, STABILITY, STORE

from conftest import (
    ROOT,
    SNAKEMAKE,
    assert_drawn,
    planned_outputs,
    snakemake,
    tiny_config,
    write_config,
)
from topoact import mapper, store

pytestmark = pytest.mark.workflow


def test_killed_extraction_leaves_no_store_that_looks_complete(tmp_path):
    # A slow extraction: the full conv1 cloud (460k points), one image per batch.
    config = tiny_config(samplings=["full"], batch_size=1, chunk_mb=1)
    config["analyses"][0]["layers"] = ["conv1"]
    config["mapper"]["samplings"] = []
    config["homology"]["seeds"] = []
    configfile = write_config(tmp_path, config)
    target = tmp_path / STORE.format(sampling="full", layer="conv1")
    command = [*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
               "--configfile", str(configfile), "--cores", "2"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    partial = store.partial_path(target)
    deadline = time.monotonic() + 240
    chunks = partial / "points" / "c"
    while not (chunks.exists() and any(chunks.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chunks.exists(), "extraction never started writing"
    os.killpg(process.pid, signal.SIGKILL)  # snakemake and its job, as a power cut would
    process.wait()

    assert partial.exists(), "the job finished before it was killed: nothing was tested"
    # Snakemake may have made the (empty) output directory; it must not be a store.
    assert not (target / "zarr.json").exists(), "a killed job left a store at the final path"
    with pytest.raises(store.StoreError):
        store.open_store(target, "activations")
    # The rerun (same command; a killed run leaves a stale lock to clear) plans the job
    # again, alone; it runs with whole batches (one image a batch was only to be slow).
    snakemake(tmp_path, configfile, "--unlock")
    assert planned_outputs(tmp_path, configfile) == {"extract_activations": [
        STORE.format(sampling="full", layer="conv1")]}
    config["activations"]["batch_size"] = 256
    snakemake(tmp_path, write_config(tmp_path, config, "batches.yaml"))
    group = store.open_store(target, "activations")
    assert group["points"].shape == (1797 * 256, 32)
    assert not partial.exists()
    assert np.isfinite(group["points"][-10:]).all()


def test_noise_variants_and_foreground_sampling_get_graphs_and_purity(tmp_path):
    """Input noise as dataset variants beside the clean one, and foreground-top1 from
    grabCut masks and measured receptive fields, which the noisy variant reuses."""
    config = tiny_config(samplings=["top-l2", "foreground-top1"], noise_sigmas=[0.5])
    config["analyses"][0]["layers"] = ["conv3", "fc1"]
    config["mapper"]["samplings"] = ["top-l2", "foreground-top1"]
    config["mapper"]["epsilons"] = ["fixed"]
    config["stability"]["samplings"] = ["top-l2"]
    config["homology"]["seeds"] = []
    config["featurevis"]["samplings"] = []
    configfile = write_config(tmp_path, config)
    snakemake(tmp_path, configfile)
    clean = store.read_activations(tmp_path / STORE.format(sampling="top-l2", layer="fc1"))
    noisy = store.read_activations(tmp_path / STORE.format(sampling="top-l2", layer="fc1")
                                   .replace("/digits/", "/digits-noise-0.5/"))
    assert noisy.attrs["params"]["noise_sigma"] == 0.5 and clean.attrs["params"]["noise_sigma"] == 0
    assert noisy.points.shape == clean.points.shape
    assert not np.allclose(noisy.points, clean.points)
    np.testing.assert_array_equal(noisy.label, clean.label)  # the same images
    assert (tmp_path / "results/mapper/digits-noise-0.5/digits-cnn/seed-0/top-l2/"
            "overlap-30-epsilon-fixed/fc1.zarr").exists()
    table = pd.read_csv(tmp_path / "results/purity/digits/digits-cnn/seed-0/noise-purity.tsv",
                        sep="\t")
    assert sorted(table["noise_sigma"].unique()) == [0.0, 0.5]
    for figure in ("results/purity/digits/digits-cnn/seed-0/noise-purity.png",
                   "results/noise/digits-examples.png"):
        assert_drawn(tmp_path / figure)
    assert not (tmp_path / "results/data/digits-noise-0.5.zarr").exists()
    moved = pd.read_csv(tmp_path / STABILITY / "noise-distances.tsv", sep="\t")
    assert sorted(moved["layer"]) == ["conv3", "fc1"] and set(moved["sigma"]) == {0.5}
    assert (moved["bottleneck"] >= 0).all() and moved["similarity"].between(0, 1).all()
    assert_drawn(tmp_path / STABILITY / "noise-distances.png")
    noisy_summary = STABILITY.replace("/digits/", "/digits-noise-0.5/") + "/summary.tsv"
    assert len(pd.read_csv(tmp_path / noisy_summary, sep="\t")) == 2  # noisy graphs too

    masks = tmp_path / "results/masks/digits.zarr"
    fields = "results/receptive_fields/digits/digits-cnn/seed-0/{layer}.npz"
    assert store.open_store(masks, "masks")["masks"].shape == (1797, 32, 32)
    assert sorted(p.name for p in (tmp_path / "results/masks").iterdir()) == [
        "digits-examples.png", "digits.zarr"]                 # no masks of the noisy variant
    for layer, positions in (("conv3", 64), ("fc1", 1)):
        assert (tmp_path / fields.format(layer=layer)).exists()
        for dataset in ("digits", "digits-noise-0.5"):
            path = STORE.format(sampling="foreground-top1", layer=layer).replace(
                "/digits/", f"/{dataset}/")
            cloud = store.read_activations(tmp_path / path)
            assert cloud.points.shape[0] == 1797 and cloud.attrs["points_per_image"] == 1
            assert cloud.attrs["sources"]["masks"] == "results/masks/digits.zarr"
            assert cloud.attrs["sources"]["receptive_fields"] == fields.format(layer=layer)
            assert (cloud.position[:, 0] * 8 + cloud.position[:, 1]).max() < positions * 8
            graph = GRAPH.format(sampling="foreground-top1", layer=layer, overlap=30, eps="fixed")
            assert (tmp_path / (graph.replace("/digits/", f"/{dataset}/") + ".zarr")).exists()


def test_grid_jobs_build_a_layers_graphs_in_one_job_equal_to_one_graph_at_a_time(tmp_path):
    """mapper.jobs: grid — one build_mapper_grid job per (sampling, layer) writes every
    graph of the layer's grid, each equal to the graph built alone; any change to the
    grid reruns that job (the trade-off the option documents)."""
    config = tiny_config(samplings=["top-l2"])
    config["analyses"][0]["layers"] = ["fc1"]
    config["mapper"].update(samplings=["top-l2"], overlaps=[20, 50], jobs="grid")
    config["homology"]["seeds"] = []
    config["featurevis"]["samplings"] = []
    configfile = write_config(tmp_path, config)
    grid = [(p, e) for p in (20, 50) for e in ("adaptive", "fixed")]
    targets = [GRAPH.format(sampling="top-l2", layer="fc1", overlap=p, eps=e) + ".json"
               for p, e in grid]
    plan = planned_outputs(tmp_path, configfile, *targets)
    assert "build_mapper" not in plan
    # one job; per graph: store, node-link, KeplerMapper JSON, purity table, figure
    assert len(plan["build_mapper_grid"]) == 5 * len(grid)
    # A cloud of one point per image: one thread, so that two layers' jobs run side by side
    # (only `full` clouds, where the distance products dominate, get two).
    dry = snakemake(tmp_path, configfile, "--dry-run", *targets)
    blocks = re.split(r"^(?:local)?rule ", dry.stdout + dry.stderr, flags=re.M)
    grid_jobs = [block for block in blocks if block.startswith("build_mapper_grid:")]
    train_jobs = [block for block in blocks if block.startswith("train_model:")]
    # (Snakemake prints no threads line for one thread.)
    assert len(grid_jobs) == 1 and "threads:" not in grid_jobs[0], grid_jobs
    assert "threads: 2" in train_jobs[0]
    snakemake(tmp_path, configfile, *targets)

    points = store.read_activations(tmp_path / STORE.format(sampling="top-l2", layer="fc1")).points
    eps = {"fixed": 4.0, "adaptive": store.read_epsilon(
        tmp_path / "results/epsilon/digits/digits-cnn/seed-0/top-l2/fc1.json")}
    for p, e in grid:
        built, _, attrs = store.read_graph(
            tmp_path / (GRAPH.format(sampling="top-l2", layer="fc1", overlap=p, eps=e) + ".zarr"))
        alone = mapper.build_mapper(points, 15, p / 100, eps[e], 5, cover="exact")
        assert attrs["name"] == f"overlap-{p}-epsilon-{e}" and alone.n_nodes > 1
        assert ([built.members(i).tolist() for i in range(built.n_nodes)]
                == [alone.members(i).tolist() for i in range(alone.n_nodes)])
        base = tmp_path / GRAPH.format(sampling="top-l2", layer="fc1", overlap=p, eps=e)
        table = pd.read_csv(f"{base}.purity.tsv", sep="\t", dtype={"overlap": str})
        assert set(table["parameters"]) == {attrs["name"]} and set(table["overlap"]) == {str(p)}
        assert (table["nodes"] == alone.n_nodes).all()
        assert_drawn(f"{base}.png")

    config["mapper"]["fixed_epsilon"] = 3.0
    changed = write_config(tmp_path, config, "changed.yaml")
    assert len(planned_outputs(tmp_path, changed, *targets)["build_mapper_grid"]) == 5 * len(grid)


def test_a_changed_fixed_epsilon_rebuilds_the_shared_pass_not_the_adaptive_graphs(tmp_path):
    """mapper.jobs: shared — after the fixed ε changes, the rerun fixed graphs are built
    with the new ε (the layer's pass is not reused stale) and equal the graph built
    alone; the adaptive graphs are not rewritten."""
    config = tiny_config(samplings=["top-l2"])
    config["analyses"][0]["layers"] = ["fc1"]
    config["mapper"].update(samplings=["top-l2"], overlaps=[20, 50])
    config["homology"]["seeds"] = []
    config["featurevis"]["samplings"] = []
    config["stability"]["samplings"] = []
    targets = [GRAPH.format(sampling="top-l2", layer="fc1", overlap=p, eps=e) + ".json"
               for p in (20, 50) for e in ("adaptive", "fixed")]
    snakemake(tmp_path, write_config(tmp_path, config), *targets)
    adaptive = [tmp_path / GRAPH.format(sampling="top-l2", layer="fc1", overlap=p,
                                        eps="adaptive") for p in (20, 50)]
    before = {path: path.with_suffix(".json").stat().st_mtime_ns for path in adaptive}

    config["mapper"]["fixed_epsilon"] = 3.0
    snakemake(tmp_path, write_config(tmp_path, config, "changed.yaml"), *targets)
    points = store.read_activations(tmp_path / STORE.format(sampling="top-l2", layer="fc1")).points
    for p in (20, 50):
        base = tmp_path / GRAPH.format(sampling="top-l2", layer="fc1", overlap=p, eps="fixed")
        built, _, _ = store.read_graph(base.with_suffix(".zarr"))
        alone = mapper.build_mapper(points, 15, p / 100, 3.0, 5)
        assert built.params["eps"] == 3.0 and alone.n_nodes > 1
        assert ([built.members(i).tolist() for i in range(built.n_nodes)]
                == [alone.members(i).tolist() for i in range(alone.n_nodes)])
    assert {path: path.with_suffix(".json").stat().st_mtime_ns for path in adaptive} == before
