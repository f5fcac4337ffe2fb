"""The workflow's plan (topoact.plan): what each config asks every stage for, without
Snakemake. Known answers for the embedded default, counts worked from each preset's
lists, and the one walk over the grid that every stage shares."""

from __future__ import annotations

import re

import pytest
import yaml
from snakemake.utils import update_config

from conftest import ROOT
from topoact.config import validate_config
from topoact.names import grid_name
from topoact.plan import Plan, base_dataset, noise_of

PRESETS = ("topoact", "purvine", "generalization")


def load(*names: str, **changes: dict) -> dict:
    """A config as the Snakefile reads it: config.yaml (unless a preset replaces it), the
    named files on top, then ``changes`` per section; validated, defaults filled in."""
    paths = [ROOT / ("config.yaml" if name == "config" else f"config/{name}.yaml")
             for name in names]
    config = {}
    for path in paths:
        update_config(config, yaml.safe_load(path.read_text()))
    update_config(config, changes)
    return validate_config(config)


@pytest.fixture(scope="module")
def default() -> Plan:
    return Plan(load("config"))


def test_default_targets_of_every_stage(default):
    run = "digits/digits-cnn/seed-0"
    layers = ["conv1", "conv2", "conv3", "conv4", "fc1"]
    assert default.trained_models() == ["results/models/digits-cnn/seed-0.pt"]
    assert default.activation_stores() == sorted(
        f"results/activations/{run}/{s}/{layer}.zarr"
        for s in ("random", "full", "top-l2") for layer in layers)
    # 2 samplings × 5 layers × (30, 50) × (adaptive, fixed): a figure and a node-link
    # file each, the purity summary, and ε's plot per cloud.
    mapper = default.mapper_outputs()
    assert len(mapper) == 40 * 2 + 1 + 10
    assert f"results/mapper/{run}/random/overlap-50-epsilon-fixed/conv3.png" in mapper
    assert f"results/purity/{run}/purity.tsv" in mapper
    assert f"results/epsilon/{run}/top-l2/fc1.png" in mapper
    # Stability: 40 graphs' figures, 10 layers' grid distances, the summary and its plot.
    stability = default.stability_outputs()
    assert len(stability) == 40 + 10 + 2
    assert f"results/stability/{run}/top-l2/grid-distances/conv1.png" in stability
    # Homology over seeds 0 and 1: per seed the distances and 5 diagrams; the two tests.
    homology = default.homology_outputs()
    assert len(homology) == 2 * (1 + 5) + 2
    assert "results/homology/digits/digits-cnn/specificity.tsv" in homology
    # Feature visualization: the opening graph (30 %, adaptive) of the random sampling's
    # 5 layers, with contact sheets; each layer's examples and their selection.
    featurevis = default.featurevis_outputs()
    assert sorted(featurevis) == sorted(
        [f"results/featurevis/{run}/random/overlap-30-epsilon-adaptive/{layer}{suffix}"
         for layer in layers for suffix in ("", ".contact.png")]
        + [f"results/featurevis/{run}/random/examples/{layer}{suffix}"
           for layer in layers for suffix in ("", ".json")])
    assert default.explorer_outputs() == ["results/explorer"]
    assert default.noise_outputs() == []
    # Weight space: conv1's sweep (final and its update × k 5/15/50 × keep 10/30) and the
    # dynamics' X(15, 30) on 4 snapshots (final's is in the sweep): 15 cores.
    weights = default.weights_outputs()
    assert len(weights) == 3 + 15
    assert "results/weights/digits-cnn/conv1/iteration-10/k-15-keep-30/mapper.png" in weights
    assert default.profiles_outputs() == [
        f"results/profiles/{run}/channel/{name}"
        for name in ("persistence-images.png", "within-across.tsv", "class-jaccard.png")]
    assert len(default.targets()) == 1 + 15 + 91 + 52 + 14 + 20 + 1 + 18 + 3


def test_full_overlay_adds_an_overlap_renders_every_graph_and_five_seeds():
    plan = Plan(load("config", "full"))
    assert plan.grid() == [(o, e) for o in (20, 30, 50) for e in ("adaptive", "fixed")]
    assert len(plan.mapper_graphs("digits", "digits-cnn", 0, ".png")) == 2 * 5 * 6
    assert len(plan.stability_outputs()) == 60 + 10 + 2
    assert len(plan.homology_outputs()) == 5 * (1 + 5) + 2
    # graphs: all renders every graph of the random sampling, 5 examples per class.
    assert len(plan.featurevis_outputs()) == 2 * 5 * 6 + 2 * 5
    # 32 trainings instead of 16 change no target; the rest is the default's.
    assert plan.weights_outputs() == Plan(load("config")).weights_outputs()
    assert plan.weight_seeds() == list(range(32))
    assert len(plan.profiles_outputs()) == 3 and plan.noise_outputs() == []
    assert plan.explorer_outputs() == ["results/explorer"]


@pytest.mark.parametrize("preset", PRESETS)
def test_each_presets_targets_follow_from_its_lists(preset):
    config = load(preset)
    plan = Plan(config)
    mapper, fv = config["mapper"], config["featurevis"]
    sigmas = config["activations"]["noise_sigmas"]
    grid = len(mapper["overlaps"]) * len(mapper["epsilons"])
    runs = [(a, seed) for a in config["analyses"] for seed in a["seeds"]]
    graphs = sum(len(a["layers"]) for a, _ in runs) * len(mapper["samplings"]) * grid
    clean = plan.mapper_graphs
    assert sum(len(clean(d, m, s, ".png")) for d, m, s in plan.analysis_grid()) == (
        graphs * (1 + len(sigmas)))
    assert len(plan.activation_stores()) == sum(
        len(a["layers"]) for a, _ in runs) * len(config["activations"]["samplings"])
    stable = [s for s in config["stability"]["samplings"] if s in mapper["samplings"]]
    assert sum(len(plan.stability_graphs(d, m, s, ".png"))
               for d, m, s in plan.analysis_grid()) == (
        graphs // len(mapper["samplings"]) * len(stable) * (1 + len(sigmas)))
    rendered = [s for s in fv["samplings"] if s in mapper["samplings"]]
    per_layer = grid if fv["graphs"] == "all" else 1
    assert len(plan.featurevis_outputs()) == sum(len(a["layers"]) for a, _ in runs) * len(
        rendered) * (2 * per_layer + (2 if plan.examples_on() else 0))
    assert len(plan.profiles_outputs()) == 3 * len(runs) * len(config["profiles"]["neurons"])
    assert len(plan.explorer_sources()) == graphs * (1 + len(sigmas))
    assert plan.weights_outputs() == []
    assert len(plan.trained_models()) == len({(a["model"], seed) for a, seed in runs})
    seeds = config["homology"]["seeds"]  # per seed: distances and each layer's diagram
    assert len(plan.homology_outputs()) == sum(
        len(seeds) * (1 + len(a["layers"])) + 2 * (len(seeds) > 1) for a in config["analyses"])
    datasets = {a["dataset"] for a in config["analyses"]}
    assert len(plan.noise_outputs()) == (len(datasets) + len(runs) if sigmas else 0)
    for target in plan.targets():
        assert "{" not in target and target.startswith("results/"), target


def test_purvine_noise_variants_and_masked_samplings():
    plan = Plan(load("purvine"))
    assert plan.noisy_datasets("cifar10") == [
        "cifar10-noise-0.1", "cifar10-noise-0.5", "cifar10-noise-1"]
    assert (base_dataset("cifar10-noise-0.5"), noise_of("cifar10-noise-0.5")) == ("cifar10", 0.5)
    wildcards = dict(dataset="cifar10-noise-1", model="resnet18-cifar10", seed="0",
                     sampling="foreground-top5", layer="conv9")
    # A noisy variant's masked sampling reads its clean base's masks and fields.
    assert plan.foreground_inputs(wildcards) == [
        "results/masks/cifar10.zarr",
        "results/receptive_fields/cifar10/resnet18-cifar10/seed-0/conv9.npz"]
    assert plan.foreground_inputs({**wildcards, "sampling": "top-l2"}) == []
    run = dict(dataset="cifar10", model="resnet18-cifar10", seed=0)
    assert plan.noise_sigmas(run) == [0.0, 0.1, 0.5, 1.0]
    assert plan.purity_tables_by_noise(run) == [
        f"results/purity/{d}/resnet18-cifar10/seed-0/purity.tsv"
        for d in ["cifar10", *plan.noisy_datasets("cifar10")]]
    pairs = plan.noise_graph_pairs(run)
    assert len(pairs) == 3 * 2 * 17 * 3  # σ × stability samplings × layers × overlaps
    assert all(p["noisy"] == p["clean"].replace("/cifar10/", f"/cifar10-noise-{p['sigma']:g}/")
               for p in pairs)
    # Layers come in the architecture's depth order (conv10 after conv9), not by name.
    assert plan.ordered_layers(run)[8:11] == ["conv9", "conv10", "conv11"]
    assert plan.diagrams_by_seed(run)["seed-3"][0] == (
        "results/homology/cifar10/resnet18-cifar10/seed-3/diagrams/conv1.npz")


def test_every_stage_walks_the_grid_in_one_order():
    """The grid job's outputs, the per-graph targets of the mapper, stability and the
    explorer, and the noise pairs list a layer's graphs in the same order."""
    plan = Plan(load("config", "full", activations={"noise_sigmas": [0.5]}))
    names = [grid_name(o, e) for o, e in plan.grid()]
    assert names == [f"overlap-{o}-epsilon-{e}" for o in (20, 30, 50)
                     for e in ("adaptive", "fixed")]
    assert [re.search(r"/(overlap-[^/]+)/", path)[1]
            for path in plan.layer_grid_graphs(".zarr")] == names

    def walk(paths):  # (sampling, layer, parameters) of each path, in order
        return [tuple(re.search(r"seed-0/([^/]+)/([^/]+)/([^/.]+)", p).group(1, 3, 2))
                for p in paths]

    run = ("digits", "digits-cnn", 0)
    mapper = walk(plan.mapper_graphs(*run, ".zarr"))
    assert mapper == [(s, layer, name) for s in ("random", "top-l2")
                      for layer in ("conv1", "conv2", "conv3", "conv4", "fc1")
                      for name in names]
    assert walk(plan.stability_graphs(*run, ".json")) == mapper
    sources = [s for s in plan.explorer_sources() if s["dataset"] == "digits"]
    assert [(s["sampling"], s["layer"], s["parameters"]) for s in sources] == mapper
    pairs = plan.noise_graph_pairs(dict(zip(("dataset", "model", "seed"), run, strict=True)))
    assert [(p["sampling"], p["layer"], p["parameters"]) for p in pairs] == mapper
    layer = dict(zip(("dataset", "model", "seed"), run, strict=True), sampling="random",
                 layer="conv2")
    assert list(plan.layer_graphs(layer)) == names


def test_job_inputs_follow_the_wildcards_and_the_config():
    plan = Plan(load("config", mapper={"shards": 3, "epsilons": ["fixed"]}))
    cloud = dict(dataset="digits", model="digits-cnn", seed="0", sampling="random",
                 layer="conv1")
    assert plan.layer_epsilon_input(cloud) == []  # no adaptive ε in the grid
    assert plan.shard_plan_input(cloud) == (
        "results/mapper-shards/digits/digits-cnn/seed-0/random/conv1/plan.zarr")
    assert [p.rsplit("/", 1)[1] for p in plan.shard_nodes_input(cloud)] == [
        "shard-0.zarr", "shard-1.zarr", "shard-2.zarr"]
    default = Plan(load("config"))
    assert default.shard_plan_input(cloud) == [] and default.shard_nodes_input(cloud) == []
    graph = dict(cloud, overlap="30", epsilon="adaptive")
    assert default.graph_epsilon_input(graph) == (
        "results/epsilon/digits/digits-cnn/seed-0/random/conv1.json")
    assert default.graph_epsilon_input({**graph, "epsilon": "fixed"}) == []
    assert default.graph_fixed_epsilon({**graph, "epsilon": "fixed"}) == 4.0
    assert default.graph_parameters(graph) == "overlap-30-epsilon-adaptive"
    assert default.cloud_threads({**cloud, "sampling": "full"}) == 2
    assert default.cloud_threads(cloud) == 1
    assert default.example_selection(cloud).endswith("/random/examples/conv1.json")
    everything = Plan(load("config", featurevis={"all_examples": True}))
    assert everything.example_selection(cloud) == []
    balanced = Plan(load("config", mapper={"cover": "balanced"}))
    assert balanced.graph.format(**graph) == (
        "results/mapper/digits/digits-cnn/seed-0/random/"
        "cover-balanced-overlap-30-epsilon-adaptive/conv1")


def test_models_and_weight_space_inputs():
    plan = Plan(load("generalization"))
    assert plan.model_inputs({"model": "resnet18"}) == {
        "weights": "resources/weights/resnet18-imagenet.pt"}
    assert plan.model_spec({"model": "resnet18"}) == "resnet18"
    default = Plan(load("config"))
    assert default.model_inputs({"model": "digits-cnn"}) == {"images": "results/data/digits.zarr"}
    assert default.dataset_options({"dataset": "digits"})["root"] == "resources/digits"
    assert default.download_marker({"dataset": "digits"}) == []
    update = {"model": "digits-cnn", "layer": "conv1", "snapshot": "final-update"}
    assert default.weight_point_inputs(update) == {
        "snapshot": "results/weights/digits-cnn/snapshots/final.zarr",
        "initial": "results/weights/digits-cnn/snapshots/iteration-0.zarr"}
    assert list(default.weight_point_inputs({**update, "snapshot": "iteration-10"})) == [
        "snapshot"]
    assert default.trained_snapshots() == [
        "iteration-0", "iteration-10", "iteration-25", "final"]
    assert default.weight_seeds() == list(range(16))
    assert len(default.weight_sweep_barcodes(update)) == 2 * 3 * 2
    dynamics = default.weight_dynamics_inputs(update)
    assert [p.split("/")[4] for p in dynamics["graphs"]] == default.trained_snapshots()
    assert default.weight_slice(update) == "summed"
    assert default.weight_source(update)["seeds"] == list(range(16))
    with pytest.raises(ValueError, match="no weights analysis of layer conv2"):
        default.weight_slice({**update, "layer": "conv2"})
