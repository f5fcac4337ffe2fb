"""Real Snakemake runs of the workflow on a tiny config, in a temporary directory."""

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import assert_drawn, planned_outputs, snakemake, tiny_config, write_config
from topoact import store

pytestmark = pytest.mark.workflow

STORE = "results/activations/digits/digits-cnn/seed-0/{sampling}/{layer}.zarr"
GRAPH = "results/mapper/digits/digits-cnn/seed-0/{sampling}/overlap-{overlap}-epsilon-{eps}/{layer}"
# Each graph's job also writes its purity table and figure (they change only with it).
MAPPER_JOBS = {"build_mapper": (".zarr", ".json", ".kmapper.json", ".purity.tsv", ".png")}
HOMOLOGY = "results/homology/digits/digits-cnn"
HOMOLOGY_JOBS = {"persistence_diagrams", "sw_distances", "specificity", "sensitivity"}
FEATUREVIS = "results/featurevis/digits/digits-cnn/seed-{seed}/random"
FEATUREVIS_JOBS = {"render_node_images", "select_data_examples", "render_data_examples"}
STABILITY = "results/stability/digits/digits-cnn/seed-0"
STABILITY_SUMMARY = [f"{STABILITY}/{name}" for name in
                     ("grid-distances.tsv", "significant-features.png", "summary.tsv")]


def graph_jobs(samplings, layers, overlaps, epsilons):
    """The mapper jobs of a grid (graph, purity, figure), as planned_outputs lists them."""
    jobs = {}
    for rule, suffixes in MAPPER_JOBS.items():
        outputs = []
        for s in samplings:
            for layer in layers:
                for p in overlaps:
                    for e in epsilons:
                        base = GRAPH.format(sampling=s, layer=layer, overlap=p, eps=e)
                        outputs += [base + suffix for suffix in suffixes]
        jobs[rule] = sorted(outputs)
    return jobs


def featurevis_jobs(node_layers, overlaps, epsilons, example_layers, seed=0):
    """Feature-visualization jobs (random sampling): node images of the given graphs and
    the data examples of the given layers."""
    base = FEATUREVIS.format(seed=seed)
    nodes = [f"{base}/overlap-{p}-epsilon-{e}/{layer}{suffix}" for layer in node_layers
             for p in overlaps for e in epsilons for suffix in ("", ".contact.png")]
    jobs = {"render_node_images": sorted(nodes),
            "select_data_examples": sorted(f"{base}/examples/{la}.json" for la in example_layers),
            "render_data_examples": sorted(f"{base}/examples/{la}" for la in example_layers)}
    return {rule: outputs for rule, outputs in jobs.items() if outputs}


def stability_jobs(layers, overlaps, epsilons, grid_layers=()):
    """The stability jobs of the random sampling's graphs of the given grid, and the grid
    distances of ``grid_layers`` (the summary is checked on its own)."""
    graphs = [f"{STABILITY}/random/overlap-{p}-epsilon-{e}/{layer}.{ext}" for layer in layers
              for p in overlaps for e in epsilons for ext in ("json", "png", "tsv")]
    grids = [f"{STABILITY}/random/grid-distances/{layer}.{ext}" for layer in grid_layers
             for ext in ("png", "tsv")]
    jobs = {"graph_stability": sorted(graphs), "grid_distances": sorted(grids)}
    return {rule: outputs for rule, outputs in jobs.items() if outputs}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """The tiny config run to completion once; tests plan changes against it."""
    directory = tmp_path_factory.mktemp("run")
    config = tiny_config()
    snakemake(directory, write_config(directory, config))
    return directory, config


def test_run_leaves_a_complete_store_for_every_layer_and_sampling(finished_run):
    directory, config = finished_run
    for sampling in ("random", "full", "top-l2"):
        for layer, per_image, channels in (("conv3", 64, 128), ("fc1", 1, 128)):
            group = store.open_store(directory / STORE.format(sampling=sampling, layer=layer),
                                     "activations")
            expected = 1797 * (per_image if sampling == "full" else 1)
            assert group["points"].shape == (expected, channels)
            assert group.attrs["params"]["sampling"] == sampling
            assert group.attrs["sources"]["images"] == "results/data/digits.zarr"
    assert (directory / "results/models/digits-cnn/seed-0.json").exists()
    assert (directory / "results/logs/activations/digits/digits-cnn/seed-0/full/conv3.log").exists()


def test_run_leaves_epsilon_graphs_and_purity_for_the_whole_grid(finished_run):
    directory, config = finished_run
    for sampling in ("random", "top-l2"):
        for layer in ("conv3", "fc1"):
            record = json.loads((directory / f"results/epsilon/digits/digits-cnn/seed-0/"
                                 f"{sampling}/{layer}.json").read_text())
            assert record["epsilon"] > 0 and record["k"] == 5 and record["n_points"] == 1797
            for eps in ("adaptive", "fixed"):
                base = directory / GRAPH.format(sampling=sampling, layer=layer, overlap=30,
                                                eps=eps)
                graph, _, attrs = store.read_graph(base.with_suffix(".zarr"))
                expected = record["epsilon"] if eps == "adaptive" else 4.0
                assert graph.params["eps"] == pytest.approx(expected)
                assert attrs["name"] == f"overlap-30-epsilon-{eps}"
                nodelink = json.loads(base.with_suffix(".json").read_text())
                assert len(nodelink["nodes"]) == graph.n_nodes > 0
                assert_drawn(base.with_suffix(".png"))
    table = pd.read_csv(directory / "results/purity/digits/digits-cnn/seed-0/purity.tsv",
                        sep="\t")
    assert len(table) == 2 * 2 * 2 * 10  # samplings × layers × ε modes × classes
    assert set(table["parameters"]) == {"overlap-30-epsilon-adaptive", "overlap-30-epsilon-fixed"}
    assert table["class_points"].groupby([table["sampling"], table["layer"],
                                          table["parameters"]]).sum().eq(1797).all()
    assert table["node_purity"].between(0, 1).all()
    for plot in ("node-purity.png", "class-purity.png"):
        assert (directory / "results/purity/digits/digits-cnn/seed-0" / plot).exists()


def test_one_engine_pass_per_layer_serves_all_its_graph_jobs(finished_run):
    """mapper.jobs: shared (the default) — of each layer's graph jobs, the first to run
    builds the layer's whole grid in one engine pass and the others copy their graph;
    where the fixed-ε job ran before the layer's adaptive ε was estimated, its pass built
    the fixed-ε graph and the adaptive job's pass the adaptive one: each graph once."""
    directory, _ = finished_run
    logs = directory / "results/logs/mapper/digits/digits-cnn/seed-0"
    grid = ["overlap-30-epsilon-adaptive", "overlap-30-epsilon-fixed"]
    for sampling in ("random", "top-l2"):
        for layer in ("conv3", "fc1"):
            texts = [(logs / sampling / name / f"{layer}.log").read_text() for name in grid]
            built = [name for text in texts
                     for names in re.findall(r"ran the layer's pass for (.*?): Engine", text)
                     for name in names.split(", ")]
            assert sorted(built) == grid, texts
            copied = sum("copied from the layer's pass" in text for text in texts)
            assert copied == 2 - sum("ran the layer's pass" in text for text in texts), texts
            index = store.read_json(directory / "results/mapper-pass/digits/digits-cnn/seed-0"
                                    / sampling / layer / "index.json")
            assert sorted(index["graphs"]) == ["overlap-30-epsilon-adaptive",
                                               "overlap-30-epsilon-fixed"]


def test_nothing_to_do_after_a_complete_run(finished_run):
    directory, config = finished_run
    assert planned_outputs(directory, write_config(directory, config, "same.yaml")) == {}


def test_adding_a_layer_schedules_only_its_extractions(finished_run):
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["analyses"][0]["layers"].append("conv4")
    planned = planned_outputs(directory, write_config(directory, changed, "layer.yaml"))
    assert planned.pop("extract_activations") == sorted(
        [STORE.format(sampling=s, layer="conv4") for s in ("full", "random", "top-l2")]
        + [STORE.format(sampling="top-l2", layer="conv4").replace("seed-0", "seed-2")])
    assert planned.pop("persistence_diagrams") == sorted(
        f"{HOMOLOGY}/seed-{seed}/diagrams/conv4.{ext}" for seed in (0, 2)
        for ext in ("npz", "png"))
    for rule in ("sw_distances", "specificity", "sensitivity"):  # they read every layer
        assert planned.pop(rule)
    assert planned.pop("estimate_epsilon") == sorted(
        f"results/epsilon/digits/digits-cnn/seed-0/{s}/conv4.{ext}"
        for s in ("random", "top-l2") for ext in ("json", "png"))
    assert planned.pop("purity_summary")  # the summary reads every graph
    assert planned.pop("build_explorer") == ["results/explorer"]  # it shows every graph
    assert planned.pop("stability_summary") == STABILITY_SUMMARY
    assert planned == {**graph_jobs(["random", "top-l2"], ["conv4"], [30], ["adaptive", "fixed"]),
                       **featurevis_jobs(["conv4"], [30], ["adaptive"], ["conv4"]),
                       **stability_jobs(["conv4"], [30], ["adaptive", "fixed"], ["conv4"])}


def test_adding_an_overlap_schedules_only_its_graphs_and_the_summary(finished_run):
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["mapper"]["overlaps"] = [30, 50]
    planned = planned_outputs(directory, write_config(directory, changed, "overlap.yaml"))
    assert len(planned.pop("purity_summary")) == 3
    assert planned.pop("build_explorer") == ["results/explorer"]
    assert planned.pop("stability_summary") == STABILITY_SUMMARY
    # The new graphs, their stability, and each layer's grid distances (which compare them
    # with the others); no images: the explorer still opens on overlap-30-epsilon-adaptive.
    assert planned == {**graph_jobs(["random", "top-l2"], ["conv3", "fc1"], [50],
                                    ["adaptive", "fixed"]),
                       **stability_jobs(["conv3", "fc1"], [50], ["adaptive", "fixed"],
                                        ["conv3", "fc1"])}


def test_rendering_every_graph_adds_only_the_node_images_of_graphs_without_them(
        finished_run):
    """featurevis.graphs: all with a new overlap: node images of the new graphs and of the
    fixed-ε graphs, which had none (the opening graphs' stay as they are), and each layer's
    data examples, whose shared render now covers every graph (docs/mapper.md)."""
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["mapper"]["overlaps"] = [30, 50]
    changed["featurevis"]["graphs"] = "all"
    planned = planned_outputs(directory, write_config(directory, changed, "all.yaml"))
    for rule in ("purity_summary", "build_explorer", "stability_summary", *MAPPER_JOBS,
                 "graph_stability", "grid_distances"):
        planned.pop(rule)
    rendered = featurevis_jobs(["conv3", "fc1"], [30], ["adaptive"], [])["render_node_images"]
    expected = featurevis_jobs(["conv3", "fc1"], [30, 50], ["adaptive", "fixed"],
                               ["conv3", "fc1"])
    expected["render_node_images"] = sorted(set(expected["render_node_images"]) - set(rendered))
    assert planned == expected


def test_rendering_every_point_reruns_only_the_layers_example_renders(finished_run):
    """featurevis.all_examples: every point of each layer's cloud rendered (TopoAct's
    300,000); the node images and the graphs' selections stay."""
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["featurevis"]["all_examples"] = True
    planned = planned_outputs(directory, write_config(directory, changed, "every.yaml"))
    base = FEATUREVIS.format(seed=0)
    assert planned == {"render_data_examples": [f"{base}/examples/{layer}"
                                                for layer in ("conv3", "fc1")],
                       "build_explorer": ["results/explorer"]}


def test_changing_the_fixed_epsilon_reruns_only_the_fixed_graphs(finished_run):
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["mapper"]["fixed_epsilon"] = 5.0
    planned = planned_outputs(directory, write_config(directory, changed, "fixed.yaml"))
    assert len(planned.pop("purity_summary")) == 3
    assert planned.pop("build_explorer") == ["results/explorer"]
    assert planned.pop("stability_summary") == STABILITY_SUMMARY
    assert planned == {**graph_jobs(["random", "top-l2"], ["conv3", "fc1"], [30], ["fixed"]),
                       **stability_jobs(["conv3", "fc1"], [30], ["fixed"], ["conv3", "fc1"])}


def test_changing_the_bootstrap_reruns_only_the_stability_jobs(finished_run):
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["stability"]["bootstrap"] = 30
    planned = planned_outputs(directory, write_config(directory, changed, "bootstrap.yaml"))
    assert planned.pop("stability_summary") == STABILITY_SUMMARY
    assert planned.pop("build_explorer") == ["results/explorer"]  # it shows the features
    # Every graph's bootstrap; not the grid distances, which read the graphs only.
    assert planned == stability_jobs(["conv3", "fc1"], [30], ["adaptive", "fixed"])


def test_changing_the_samplings_schedules_only_the_new_ones(finished_run):
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["activations"]["samplings"] = ["random", "top-l2"]
    assert planned_outputs(directory, write_config(directory, changed, "fewer.yaml")) == {}
    removed_then_added = tiny_config(samplings=["random"])
    removed_then_added["mapper"]["samplings"] = ["random"]
    removed_then_added["mapper"]["epsilons"] = ["fixed"]
    removed_then_added["analyses"][0]["seeds"] = [0, 1]
    planned = planned_outputs(directory, write_config(directory, removed_then_added, "seed.yaml"))
    for rule in MAPPER_JOBS:
        assert all("seed-1" in output for output in planned.pop(rule))
    # Both summaries: seed-0's now reads fewer graphs (Snakemake's input-set trigger).
    assert len(planned.pop("purity_summary")) == 6
    assert all("seed-1" in output for output in planned.pop("graph_stability"))
    assert len(planned.pop("stability_summary")) == 6  # seed 0's reads fewer graphs too
    assert planned.pop("build_explorer")  # it shows fewer graphs
    # The explorer now opens on overlap-30-epsilon-fixed: those graphs' images and their
    # layers' data examples, both seeds.
    jobs = featurevis_jobs(["conv3", "fc1"], [30], ["fixed"], ["conv3", "fc1"])
    for rule, outputs in jobs.items():
        seed_1 = [o.replace("seed-0", "seed-1") for o in outputs]
        assert planned.pop(rule) == sorted(outputs + seed_1)
    assert not HOMOLOGY_JOBS & set(planned)  # homology seeds are their own setting
    assert sorted(planned) == ["extract_activations", "train_model"]
    assert planned["train_model"] == ["results/models/digits-cnn/seed-1.json",
                                      "results/models/digits-cnn/seed-1.pt"]
    assert planned["extract_activations"] == [
        "results/activations/digits/digits-cnn/seed-1/random/conv3.zarr",
        "results/activations/digits/digits-cnn/seed-1/random/fc1.zarr"]


def test_changing_an_extraction_parameter_reruns_the_extractions_only(finished_run):
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["activations"]["border"] = 2
    planned = planned_outputs(directory, write_config(directory, changed, "border.yaml"))
    assert len(planned.pop("extract_activations")) == 8  # 6 of seed 0, top-l2 of seed 2
    # Downstream of the changed stores: ε, graphs, summary, homology; nothing upstream.
    assert set(planned) == {"estimate_epsilon", "purity_summary", *MAPPER_JOBS,
                            *HOMOLOGY_JOBS, *FEATUREVIS_JOBS, "build_explorer",
                            "graph_stability", "grid_distances", "stability_summary"}


def test_changing_render_settings_reruns_the_renders_only(finished_run):
    directory, config = finished_run
    changed = copy.deepcopy(config)
    changed["featurevis"]["steps"] = 5
    planned = planned_outputs(directory, write_config(directory, changed, "steps.yaml"))
    assert planned.pop("build_explorer") == ["results/explorer"]
    expected = featurevis_jobs(["conv3", "fc1"], [30], ["adaptive"], ["conv3", "fc1"])
    del expected["select_data_examples"]  # which points are shown does not change
    assert planned == expected
    changed = copy.deepcopy(config)
    changed["featurevis"]["examples_per_class"] = 2
    planned = planned_outputs(directory, write_config(directory, changed, "examples.yaml"))
    assert planned.pop("build_explorer") == ["results/explorer"]
    assert planned == featurevis_jobs([], [], [], ["conv3", "fc1"])


def test_run_leaves_homology_tables_and_figures(finished_run):
    directory, config = finished_run
    for seed in (0, 2):
        table = pd.read_csv(directory / f"{HOMOLOGY}/seed-{seed}/sw-distances.tsv", sep="\t")
        assert len(table) == 2 * 2 * 2  # layer pairs × dims
        diagonal = table[table["layer_a"] == table["layer_b"]]
        assert (diagonal["sw_mean"] == 0).all()
        assert (table[table["layer_a"] != table["layer_b"]]["sw_mean"] > 0).all()
        assert (directory / f"{HOMOLOGY}/seed-{seed}/sw-heatmap.png").exists()
        for layer in ("conv3", "fc1"):
            assert (directory / f"{HOMOLOGY}/seed-{seed}/diagrams/{layer}.png").exists()
    specificity = pd.read_csv(directory / f"{HOMOLOGY}/specificity.tsv", sep="\t")
    assert set(specificity["seed_b"]) == {2} and len(specificity) == 2 * 2
    sensitivity = pd.read_csv(directory / f"{HOMOLOGY}/sensitivity.tsv", sep="\t")
    assert sorted(sensitivity["removed"].unique()) == [0, 1, 2, 4]
    assert (sensitivity["baseline"] > 0).all()
    for figure in ("specificity.png", "sensitivity.png"):
        assert_drawn(directory / HOMOLOGY / figure)


def test_run_leaves_node_and_example_images_of_the_opening_graphs(finished_run):
    directory, _ = finished_run
    base = directory / FEATUREVIS.format(seed=0)
    for layer in ("conv3", "fc1"):
        graph, _, _ = store.read_graph(directory / (GRAPH.format(
            sampling="random", layer=layer, overlap=30, eps="adaptive") + ".zarr"))
        nodes = base / "overlap-30-epsilon-adaptive" / layer
        index = store.read_json(nodes / "index.json")
        assert len(index["nodes"]) == graph.n_nodes
        assert all((nodes / node["file"]).exists() for node in index["nodes"])
        assert index["settings"]["steps"] == 3 and index["settings"]["image_size"] == 32
        assert (base / "overlap-30-epsilon-adaptive" / f"{layer}.contact.png").exists()
        # The other graphs of the grid have none (featurevis.graphs: opening).
        assert not (base / "overlap-30-epsilon-fixed" / layer).exists()
        selection = store.read_json(base / "examples" / f"{layer}.json")
        assert list(selection["graphs"]) == ["overlap-30-epsilon-adaptive"]
        assert len(selection["graphs"]["overlap-30-epsilon-adaptive"]) == graph.n_nodes
        rendered = store.read_json(base / "examples" / layer / "index.json")
        assert [e["point"] for e in rendered["examples"]] == selection["points"]
        for entry in rendered["examples"][:20]:
            assert (base / "examples" / layer / entry["activation"]).exists()
            assert (base / "examples" / layer / entry["input"]).exists()
    assert not (directory / "results/featurevis/digits/digits-cnn/seed-0/top-l2").exists()


def test_run_leaves_an_explorer_over_every_graph(finished_run):
    directory, _ = finished_run
    site = directory / "results/explorer"
    assert (site / "index.html").exists() and (site / "explorer.js").exists()
    manifest = (site / "data/manifest.js").read_text()
    for sampling in ("random", "top-l2"):
        for layer in ("conv3", "fc1"):
            assert f'"sampling":"{sampling}","layer":"{layer}"' in manifest
    assert len(list((site / "data").glob("graph-*.js"))) == 2 * 2 * 2  # samplings × layers × ε
    assert any((site / "images").rglob("node-0.png"))
    # It opens on the graphs with images, and says on the others which key renders theirs.
    assert '"opening":"overlap-30-epsilon-adaptive"' in manifest
    assert "featurevis.graphs: all renders every graph's" in manifest


def test_run_leaves_stability_tables_figures_and_explorer_lines(finished_run):
    directory, _ = finished_run
    summary = pd.read_csv(directory / STABILITY / "summary.tsv", sep="\t")
    assert len(summary) == 2 * 2  # random sampling: layers × ε
    assert set(summary["bootstrap"]) == {20} and (summary["d_alpha"] >= 0).all()
    assert (summary["significant_component"] >= 1).all()  # a graph has a component
    assert summary["mean_similarity_to_grid"].between(0, 1).all()
    for layer in ("conv3", "fc1"):
        base = directory / STABILITY / "random"
        distances = pd.read_csv(base / "grid-distances" / f"{layer}.tsv", sep="\t")
        assert distances[["a", "b"]].values.tolist() == [["overlap-30-epsilon-adaptive",
                                                         "overlap-30-epsilon-fixed"]]
        for eps in ("adaptive", "fixed"):
            features = pd.read_csv(base / f"overlap-30-epsilon-{eps}" / f"{layer}.tsv", sep="\t")
            record = store.read_json(base / f"overlap-30-epsilon-{eps}" / f"{layer}.json")
            assert len(features) == record["n_features"] and len(record["distances"]) == 20
            assert list(features["significant"]) == [f["significant"] for f in record["features"]]
            np.testing.assert_array_equal(features["significant"],
                                          features["persistence"] / 2 > record["d_alpha"])
            assert_drawn(base / f"overlap-30-epsilon-{eps}" / f"{layer}.png")
    graphs = (directory / "results/explorer/data").glob("graph-*.js")
    assert sum('"stability":{"d_alpha"' in g.read_text() for g in graphs) == 4


def test_one_stability_pass_per_layer_serves_its_graph_jobs(finished_run):
    """On a small cloud the first graph_stability job of a layer computes the stability of
    every graph of the layer (built before it: build_mapper's priority); the others copy."""
    directory, _ = finished_run
    logs = directory / "results/logs/stability/digits/digits-cnn/seed-0/random"
    for layer in ("conv3", "fc1"):
        hows = []
        for eps in ("adaptive", "fixed"):
            text = (logs / f"overlap-30-epsilon-{eps}" / f"{layer}.log").read_text()
            hows.append("pass" if "ran the layer's pass" in text else
                        "copied" if "copied from the layer's pass" in text else text)
        assert sorted(hows) == ["copied", "pass"], hows
        index = store.read_json(directory / "results/stability-pass/digits/digits-cnn/seed-0"
                                / "random" / layer / "index.json")
        assert sorted(index["graphs"]) == ["overlap-30-epsilon-adaptive",
                                           "overlap-30-epsilon-fixed"]


def test_report_collects_the_figures(finished_run):
    directory, config = finished_run
    report = directory / "report.html"
    snakemake(directory, write_config(directory, config, "report.yaml"), "--report", str(report))
    text = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000
    for category in ("Mapper graphs", "Purity", "Persistent homology", "Feature visualization",
                     "Stability"):
        assert category in text
    assert "The runtime of every job" in text  # the workflow description (report:)
