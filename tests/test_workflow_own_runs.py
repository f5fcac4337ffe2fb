"""Real Snakemake runs of the workflow that each need a directory of their own.

They share nothing with ``test_workflow.py``'s finished run, so they live in their own
module: ``make test`` runs test files side by side (pytest-xdist, one file per worker),
and this module then runs beside that one's shared run.
"""

import os
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
from topoact import store

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
