"""The SLURM profile against a real single-node SLURM controller (see slurm_cluster.py)."""

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import ROOT, SNAKEMAKE, planned_outputs, snakemake, tiny_config, write_config
from slurm_cluster import ClusterUnavailable, start_cluster
from topoact import store

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]


def slurm_test_config(shards: int = 1) -> dict:
    """Tiny, and with one job (3 training epochs) long enough to be cancelled mid-run;
    ``shards``: mapper.shards."""
    config = tiny_config(samplings=["top-l2"])
    config["models"]["digits-cnn"]["epochs"] = 3
    config["analyses"][0]["layers"] = ["fc1"]
    config["mapper"].update(samplings=["top-l2"], epsilons=["adaptive"], shards=shards)
    config["homology"]["seeds"] = []
    return config


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        running = start_cluster(tmp_path_factory.mktemp("slurm"))
    except ClusterUnavailable as reason:
        pytest.skip(f"SLURM unavailable: {reason}")
    yield running
    running.stop()


def slurm_command(directory, configfile) -> list[str]:
    """The README's cluster command, with the settings of this one-node test cluster."""
    return [*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(directory),
            "--configfile", str(configfile), "--profile", str(ROOT / "profiles/slurm"),
            "--slurm-no-account", "--slurm-keep-successful-logs",
            "--slurm-init-seconds-before-status-checks", "1",
            "--seconds-between-status-checks", "1", "--latency-wait", "5", "--retries", "0"]


def run_slurm(cluster, directory, configfile, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(slurm_command(directory, configfile), capture_output=True,
                            text=True, cwd=directory, env=cluster.env, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"SLURM run failed:\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-4000:]}\n{cluster.logs()}")
    return result


def outputs(directory) -> dict[str, object]:
    """What the runs must agree on: activations, graphs, and the purity table."""
    found = {}
    for path in sorted((directory / "results/activations").rglob("*.zarr")):
        found[str(path.relative_to(directory))] = store.read_activations(path).points
    for path in sorted((directory / "results/mapper").rglob("*.zarr")):
        graph, _, _ = store.read_graph(path)
        found[str(path.relative_to(directory))] = np.concatenate(
            [graph.indptr, graph.indices, graph.edges.ravel()])
    for path in sorted((directory / "results/purity").rglob("*.tsv")):
        found[str(path.relative_to(directory))] = path.read_text()
    return found


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], str):
            assert a[key] == b[key], key
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("local")
    snakemake(directory, write_config(directory, slurm_test_config()))
    return directory


def test_cancelled_run_is_completed_by_the_same_command_and_equals_a_local_run(
        cluster, local_run, tmp_path):
    """One SLURM run whose training job is cancelled mid-run (scancel), then the same
    command again: it completes through SLURM, recomputes only what was not complete,
    and its activations, graphs and purity equal a local run's. The SLURM run splits its
    grid into three shards (mapper.shards: 3), sent as one array job; the local run does
    not: the gathered graphs equal the unsharded ones. (One test for all of it: each
    SLURM run of the DAG costs minutes of job start-ups.)"""
    configfile = write_config(tmp_path, slurm_test_config(shards=3))
    process = subprocess.Popen(slurm_command(tmp_path, configfile), cwd=tmp_path,
                               env=cluster.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    cancelled = None
    deadline = time.monotonic() + 300
    while cancelled is None and time.monotonic() < deadline:
        running = [job for job, state, _ in cluster.jobs() if state == "RUNNING"]
        if running and (tmp_path / "results/data/digits.zarr").exists():
            cancelled = running[0]
            cluster.run("scancel", cancelled)
        time.sleep(0.3)
    assert cancelled, f"no job ran within 5 minutes:\n{cluster.logs()}"
    try:
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    assert process.returncode != 0, "the run should fail on the cancelled job (retries 0)"
    done_before = {p: p.stat().st_mtime for p in (tmp_path / "results").rglob("*.json")}
    planned = planned_outputs(tmp_path, configfile)
    assert planned, "the cancelled job's outputs were left looking complete"
    started = time.monotonic()
    run_slurm(cluster, tmp_path, configfile)
    print(f"SLURM run after the cancel: {time.monotonic() - started:.0f} s")
    for path, mtime in done_before.items():  # what was complete is not recomputed
        assert path.stat().st_mtime == mtime, path
    assert list((tmp_path / ".snakemake/slurm_logs").rglob("*.log")), "no job went through SLURM"
    shard_logs = list((tmp_path / ".snakemake/slurm_logs/rule_build_mapper_shard").rglob("*.log"))
    assert len(shard_logs) == 3, shard_logs
    # One array job: its tasks' logs are named by the array's job id and task number.
    assert len({log.stem.split("_")[0] for log in shard_logs}) == 1, shard_logs
    assert not planned_outputs(tmp_path, configfile), "the second run left work undone"
    assert_same(outputs(local_run), outputs(tmp_path))
