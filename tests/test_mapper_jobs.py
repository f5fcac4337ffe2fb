"""Real Snakemake runs of the mapper's job kinds, each in a directory of its own:
``mapper.jobs: grid`` (one job per layer) and the shared pass after a changed fixed ε.

Apart from ``test_workflow_own_runs.py`` so that ``make test``'s workers (one file each at
a time) share these runs out.
"""

import re

import numpy as np
import pandas as pd
import pytest
from test_workflow import GRAPH, STORE

from conftest import assert_drawn, planned_outputs, snakemake, tiny_config, write_config
from topoact import mapper, store

pytestmark = pytest.mark.workflow


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


def test_sharded_grids_gather_into_the_graphs_and_purity_of_one_job(tmp_path):
    """mapper.shards: 4 — per cloud a plan job, four shard jobs and a gather job write
    graphs, node-link files and purity tables equal to one grid job's, on four clouds
    (two samplings × two layers) whose shards cut through overlapping intervals."""
    config = tiny_config(samplings=["random", "top-l2"])
    config["mapper"].update(overlaps=[20, 50], jobs="grid")
    config["homology"]["seeds"] = []
    config["featurevis"]["samplings"] = []
    config["stability"]["samplings"] = []
    target = "results/purity/digits/digits-cnn/seed-0/purity.tsv"
    snakemake(tmp_path, write_config(tmp_path, config), target)
    graphs = sorted((tmp_path / "results/mapper").rglob("*.zarr"))
    assert len(graphs) == 2 * 2 * 4

    def written() -> dict:
        found = {}
        for path in graphs:
            found[path] = store.read_arrays(path, "mapper")[0]
            for suffix in (".json", ".kmapper.json", ".purity.tsv"):
                found[path, suffix] = path.with_suffix(suffix).read_text()
        found[target] = (tmp_path / target).read_text()
        return found

    one_job = written()
    config["mapper"]["shards"] = 4
    sharded = write_config(tmp_path, config, "sharded.yaml")
    plan = planned_outputs(tmp_path, sharded, target)
    assert len(plan["plan_mapper_shards"]) == 4 and len(plan["build_mapper_shard"]) == 16
    snakemake(tmp_path, sharded, target)
    for path in (tmp_path / "results/mapper-shards").rglob("plan.zarr"):
        arrays, attrs = store.read_arrays(path, "mapper-shard-plan", ("rows",))
        assert len(attrs["ranges"]) == 4 and attrs["ranges"][-1][1] == 15
        # rows of intervals that overlap across a cut are read by both shards
        assert len(arrays["rows"]) > len(np.unique(arrays["rows"]))
    again = written()
    assert again.keys() == one_job.keys()
    for key, value in one_job.items():
        if isinstance(value, str):
            assert again[key] == value, key
        else:
            for name in value:
                np.testing.assert_array_equal(again[key][name], value[name], err_msg=name)
