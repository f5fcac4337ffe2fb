"""The weight-space stage: filters, normalisation, density filter, barcodes and mapper graphs."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.cluster import DBSCAN

from conftest import (
    ROOT,
    assert_drawn,
    imports_torch,
    planned_outputs,
    snakemake,
    tiny_config,
    write_config,
)
from topoact import cli, explorer, mapper, models, store
from topoact.config import ConfigError, validate_config
from topoact.homology import finite, persistence
from topoact.steps.snapshots import snapshots_for_model
from topoact.steps.weights import core_for_points, load_barcode, points_for_snapshot
from topoact.weights import filters, snapshots, topology

GRID = np.array([-1.0, 0.0, 1.0])
X, Y = np.meshgrid(GRID, GRID)  # X: column coordinate, Y: row coordinate of a 3×3 patch


def edge_patches(n: int, noise: float, seed: int = 0) -> np.ndarray:
    """Oriented edges f_θ(x, y) = cos θ·x + sin θ·y on the 3×3 grid, θ uniform, plus noise."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    patches = np.cos(theta)[:, None] * X.ravel() + np.sin(theta)[:, None] * Y.ravel()
    return patches + noise * rng.normal(size=patches.shape)


def test_codensity_equals_brute_force(rng):
    points = rng.normal(size=(300, 9))
    distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    for k in (1, 5, 15):
        # Column 0 of each sorted row is the point itself (distance 0): not counted.
        expected = np.sort(distances, axis=1)[:, k]
        np.testing.assert_allclose(mapper.codensity(points, k), expected, rtol=1e-12)


def test_density_filter_keeps_the_densest_fraction(rng):
    dense = rng.normal(scale=0.05, size=(60, 3))
    sparse = rng.normal(scale=3.0, size=(40, 3))
    index, delta = topology.density_filter(np.vstack([dense, sparse]), k=5, keep=0.5)
    assert len(index) == 50 and np.all(np.diff(index) > 0)
    assert set(range(60)) >= set(index.tolist())  # only points of the dense blob
    assert delta[index].max() <= np.delete(delta, index).min()


def test_two_dimensional_cover_equals_keplermapper_and_dbscan(rng):
    kmapper = pytest.importorskip("kmapper")

    points = rng.normal(size=(500, 6)).astype(np.float32)
    lens = mapper.pca_lens(points, 2)
    for n_cubes, overlap in ((3, 0.2), (5, 0.5)):
        graph = mapper.build_mapper(points, n_cubes, overlap, eps=1.3, min_samples=4,
                                    cover="kmapper", lens=lens, lens_name="pca2")
        theirs = kmapper.KeplerMapper(verbose=0).map(
            lens, points, cover=kmapper.Cover(n_cubes, overlap),
            clusterer=DBSCAN(eps=1.3, min_samples=4))
        ours = mapper.kmapper_json(graph)
        assert graph.n_nodes > n_cubes
        assert {name: sorted(m) for name, m in ours["nodes"].items()} == \
            {name: sorted(m) for name, m in theirs["nodes"].items()}


def test_product_cover_orders_cubes_first_coordinate_slowest():
    lens = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    cover = mapper.make_cover(lens, 2, 0.0, "exact")
    assert cover.lower.shape == (4, 2)
    assert [m.tolist() for m in cover.members(lens)] == [[0], [2], [3], [1]]


def test_edges_give_one_dominant_circle_in_barcode_and_mapper_graph():
    """The known answer of the stage: oriented 3×3 edges lie on the primary circle."""
    normalised = filters.normalise_filters(edge_patches(2000, 0.2), (3, 3), contrast_drop=0.1)
    dense = topology.core_topology(normalised.points, k=15, keep=0.5, lens="pca2",
                                   intervals=4, overlap=0.3, min_samples=5, cover="kmapper")
    bars = topology.longest_bars(dense.diagrams[1])
    assert bars["ratio"] > 3, bars
    assert dense.betti == (1, 1), (dense.graph.n_nodes, len(dense.graph.edges))
    assert dense.graph.params["lens"] == "pca2"
    # The nodes' mean filters go round the circle: their orientations cover every quadrant.
    stats = mapper.node_stats(dense.graph, normalised.points[dense.index],
                              np.zeros(len(dense.index), int), 1)
    means = stats.mean_activation.reshape(-1, 3, 3)
    angles = np.arctan2(means[:, 1, 2] - means[:, 1, 0], means[:, 2, 1] - means[:, 0, 1])
    assert len(np.unique(np.floor((angles + np.pi) / (np.pi / 2)))) == 4
    # The 1-D PCA lens: two arcs in each inner interval, one at either end — a cycle.
    core = normalised.points[dense.index]
    graph = mapper.build_mapper(core, 6, 0.3, dense.epsilon, 5, "kmapper",
                                lens=mapper.make_lens(core, "pca1"), lens_name="pca1")
    assert topology.graph_betti(graph.n_nodes, graph.edges) == (1, 1)
    # 50 % overlap: corner K4s of the 2-D cover add graph cycles the clique complex fills.
    wide = mapper.build_mapper(core, 4, 0.5, dense.epsilon, 5, "kmapper",
                               lens=mapper.make_lens(core, "pca2"), lens_name="pca2")
    assert topology.graph_betti(wide.n_nodes, wide.edges)[1] > 1
    assert topology.clique_betti1(wide.n_nodes, wide.edges) == dense.clique_betti1 == 1


def test_clique_betti1_fills_triangles_not_holes():
    square = np.array([[0, 1], [1, 2], [2, 3], [0, 3]])
    assert topology.clique_betti1(4, square) == 1
    k4 = np.array([[i, j] for i in range(4) for j in range(i + 1, 4)])
    assert topology.graph_betti(4, k4) == (1, 3) and topology.clique_betti1(4, k4) == 0
    two_squares = np.concatenate([square, square + 4])
    assert topology.clique_betti1(8, two_squares) == 2


def test_three_circle_model_barcode():
    """Edges plus lines: the three-circle model (Carlsson et al. 2008) has β1 = 5.

    The primary circle (edges at every angle) meets each secondary circle (patches of one
    direction only, from linear to quadratic) at two points: 8 arcs on 4 vertices. β1 = 5
    holds on the whole cloud and on X(15, 80 %); the larger k = 50 leaves one long bar and
    shorter ones (the 2008 paper's one circle at large k), so that is not asserted.
    """
    rng = np.random.default_rng(1)
    primary = edge_patches(300, 0.0, seed=1)
    phi = rng.uniform(0, 2 * np.pi, (2, 300))
    quadratic = X ** 2 - (X ** 2).mean()
    horizontal = np.cos(phi[0])[:, None] * X.ravel() + np.sin(phi[0])[:, None] * quadratic.ravel()
    vertical = np.cos(phi[1])[:, None] * Y.ravel() + np.sin(phi[1])[:, None] * quadratic.T.ravel()
    patches = np.vstack([primary, horizontal, vertical])
    patches += 0.01 * rng.normal(size=patches.shape)
    normalised = filters.normalise_filters(patches, (3, 3), contrast_drop=0.0)
    for keep in (1.0, 0.8):
        index, _ = topology.density_filter(normalised.points, k=15, keep=keep)
        h1 = finite(persistence(normalised.points[index], 1)[1])
        lengths = np.sort(h1[:, 1] - h1[:, 0])[::-1]
        assert lengths[4] > 20 * lengths[5], (keep, lengths[:8])


def test_spatial_filters_each_and_summed():
    weight = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    each, out_channel, in_channel = filters.spatial_filters(weight, "each")
    assert each.shape == (6, 4)
    np.testing.assert_array_equal(each[4], weight[1, 1].ravel())
    assert (out_channel[4], in_channel[4]) == (1, 1)
    summed, out_channel, in_channel = filters.spatial_filters(weight, "summed")
    np.testing.assert_array_equal(summed[1], weight[1].sum(axis=0).ravel())
    assert in_channel.tolist() == [-1, -1]


def test_normalisation_centres_cuts_contrast_and_scales(rng):
    patches = rng.normal(size=(100, 9)) * np.linspace(0.1, 2.0, 100)[:, None] + 5.0
    result = filters.normalise_filters(patches, (3, 3), contrast_drop=0.25)
    assert len(result.points) == 75
    np.testing.assert_allclose(result.points.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(result.points, axis=1), 1, rtol=1e-6)
    assert result.contrast[result.kept].min() >= result.cut
    assert (np.delete(result.contrast, result.kept) <= result.cut).all()
    dnorm = filters.normalise_filters(patches, (3, 3), 0.0, norm="dnorm")
    np.testing.assert_allclose(filters.d_norm(dnorm.points, (3, 3)), 1, rtol=1e-6)


def test_d_norm_of_a_step_edge():
    # A vertical step: 3 horizontally adjacent pairs differ by 1; vertical pairs are equal.
    patch = np.array([[0, 1, 1], [0, 1, 1], [0, 1, 1]], dtype=float)
    assert filters.d_norm(patch.reshape(1, 9), (3, 3))[0] == pytest.approx(np.sqrt(3))


def test_bad_inputs_name_the_key_and_value():
    model = models.SmallCNN()
    with pytest.raises(ValueError, match=r"layer 'fc1'.*not a convolution"):
        snapshots.conv_module_path(model, "fc1", "fc1")
    assert snapshots.conv_module_path(model, "conv1", "conv1") == "conv1.0"
    with pytest.raises(ValueError, match=r"layer 'proj' has 1×1 kernels"):
        filters.spatial_filters(np.ones((4, 2, 1, 1)), "each", "proj")
    with pytest.raises(ValueError, match=r"weights.density_k = 15 needs more than 15 filters"):
        topology.density_filter(np.eye(9)[:8], 15, 0.3)
    constant = np.ones((20, 9))
    with pytest.raises(ValueError, match=r"all 20 filters fall below the contrast cut"):
        filters.normalise_filters(constant, (3, 3), 0.2, layer="conv1")
    with pytest.raises(ValueError, match=r"weights.slice: unknown value 'half'"):
        filters.spatial_filters(np.ones((2, 2, 3, 3)), "half")


def test_a_layer_hooked_after_its_convolution_names_that_convolution():
    """AlexNet's readable conv1 is the ReLU ``features.1``: its 11×11 filters are
    ``features.0``'s; a pooling layer is still refused."""
    alexnet = models.get_architecture("alexnet")
    model = alexnet.build(10)
    path = snapshots.conv_module_path(model, "conv1", alexnet.layers["conv1"])
    assert path == "net.features.0"
    weight = dict(model.named_modules())[path].weight.detach().numpy()
    spatial, _, _ = filters.spatial_filters(weight, "each", "conv1")
    assert spatial.shape == (64 * 3, 121)
    with pytest.raises(ValueError, match="is not a convolution"):
        snapshots.conv_module_path(model, "pool", "net.features.2")


def _tiny_split(rng):
    images = rng.integers(0, 255, size=(40, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=40)
    return (images[:32], labels[:32]), (images[32:], labels[32:])


def test_snapshots_leave_the_training_bit_identical(rng):
    train, heldout = _tiny_split(rng)
    states, seen = [], {}
    for steps in ((), (0, 1, 3)):
        torch.manual_seed(0)
        model = models.SmallCNN()
        initial = model.conv1[0].weight.detach().clone()

        def keep(step, model=model):
            seen[step] = model.conv1[0].weight.detach().clone()

        models.train_classifier(model, train, heldout, epochs=2, batch_size=16,
                                learning_rate=1e-2, weight_decay=0.0, seed=3,
                                device=torch.device("cpu"), snapshots=steps,
                                on_snapshot=keep)
        states.append(model.state_dict())
    for name in states[0]:
        assert torch.equal(states[0][name], states[1][name]), name
    assert sorted(seen) == [0, 1, 3]
    assert torch.equal(seen[0], initial)
    assert not torch.equal(seen[1], seen[3])
    with pytest.raises(ValueError, match=r"snapshot iterations \[5\] must lie in \[0, 4\]"):
        models.train_classifier(models.SmallCNN(), train, heldout, epochs=2, batch_size=16,
                                learning_rate=1e-2, weight_decay=0.0, seed=3,
                                device=torch.device("cpu"), snapshots=[5],
                                on_snapshot=keep)


def test_stage_files_from_snapshot_to_summary(tmp_path, digits_store):
    """Two short trainings through the library's workflow steps, every file checked."""
    paths = {label: tmp_path / f"{label}.zarr" for label in ("iteration-0", "final")}
    snapshots_for_model(
        digits_store, None, paths, architecture="small-cnn", layers={"conv1": "conv1"},
        seeds=[0, 1], snapshots=[0], device=torch.device("cpu"),
        training={"epochs": 1, "batch_size": 64, "learning_rate": 3e-3, "weight_decay": 0.0})
    initial, attrs = store.read_weight_snapshot(paths["iteration-0"], "conv1")
    assert initial.shape == (2, 32, 3, 3, 3) and attrs["seeds"] == [0, 1]
    torch.manual_seed(1)  # the second training's initialisation
    np.testing.assert_array_equal(initial[1], models.SmallCNN().conv1[0].weight.detach().numpy())
    points_path = tmp_path / "points.zarr"
    points_for_snapshot(paths["final"], points_path, layer="conv1", slice_mode="each",
                        contrast_drop=0.1, contrast_norm="euclidean", model="m")
    points, arrays, point_attrs = store.read_weight_points(points_path)
    assert point_attrs["filters"] == 2 * 32 * 3 and len(points) == int(np.ceil(0.9 * 192))
    assert set(arrays["seed"].tolist()) == {0, 1}
    out = {name: tmp_path / "core" / name for name in (
        "dense", "graph", "nodes")} | {"barcode": tmp_path / "core.npz",
                                       "summary": tmp_path / "core.json",
                                       "nodelink": tmp_path / "core-graph.json",
                                       "plot": tmp_path / "core.png"}
    dense = core_for_points(points_path, out, k=5, keep=0.5, maxdim=1, lens="pca2",
                            intervals=3, overlap=0.3, min_samples=3,
                            cover="kmapper")
    summary = json.loads(out["summary"].read_text())
    assert summary["core"] == len(dense.index) == round(0.5 * len(points))
    assert summary["nodes"] == dense.graph.n_nodes
    graph, stats, graph_attrs = store.read_graph(out["graph"])
    assert graph_attrs["classes"] == ["training 0", "training 1"]
    assert stats.class_counts.sum() == graph.sizes.sum()
    index = json.loads((out["nodes"] / "index.json").read_text())
    assert len(index["nodes"]) == graph.n_nodes
    assert_drawn(out["plot"])
    diagrams = load_barcode(out["barcode"])
    assert len(diagrams) == 2 and len(diagrams[0]) == summary["core"]
    source = explorer.GraphSource(
        dataset="weights", model="m", seed=0, sampling="final", layer="conv1",
        parameters="k-5-keep-50", graph=str(out["graph"]), points=str(out["dense"]),
        node_images=str(out["nodes"]), run_name="weights/m")
    manifest = explorer.build_explorer([source], tmp_path / "explorer", progress=False)
    assert manifest["graphs"][0]["run"] == "weights/m"
    assert manifest["graphs"][0]["has_images"]  # each node shown as its mean filter


def test_update_points_are_the_weights_minus_the_initialisation(tmp_path):
    initial = np.random.default_rng(0).normal(size=(2, 4, 1, 3, 3)).astype(np.float32)
    edge = np.outer([1.0, 2.0, 3.0], [1.0, 0.0, -1.0]).astype(np.float32)
    final = initial + edge  # every filter learned the same vertical edge
    attrs = {"seeds": [0, 1], "snapshot": "final"}
    store.write_weight_snapshot(tmp_path / "final.zarr", {"c": final}, attrs)
    store.write_weight_snapshot(tmp_path / "init.zarr", {"c": initial},
                                {**attrs, "snapshot": "iteration-0"})
    points_for_snapshot(tmp_path / "final.zarr", tmp_path / "update.zarr", layer="c",
                        slice_mode="each", contrast_drop=0.0,
                        contrast_norm="euclidean", model="m",
                        initial_path=tmp_path / "init.zarr")
    points, _, point_attrs = store.read_weight_points(tmp_path / "update.zarr")
    expected = (edge - edge.mean()).ravel() / np.linalg.norm(edge - edge.mean())
    np.testing.assert_allclose(points, np.tile(expected, (8, 1)), atol=1e-6)
    assert point_attrs["snapshot"] == "final-update"
    store.write_weight_snapshot(tmp_path / "other.zarr", {"c": initial},
                                {"seeds": [5, 6], "snapshot": "iteration-0"})
    with pytest.raises(ValueError, match="not the initialisation"):
        points_for_snapshot(tmp_path / "final.zarr", tmp_path / "bad.zarr", layer="c",
                            slice_mode="each", contrast_drop=0.0,
                            contrast_norm="euclidean", model="m",
                            initial_path=tmp_path / "other.zarr")


def test_cli_barcode_and_pca2_mapper(tmp_path, capsys):
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 2 * np.pi, 400)
    points = np.c_[np.cos(theta), np.sin(theta), 0.05 * rng.normal(size=400)]
    np.save(tmp_path / "circle.npy", points)
    code = cli.main([
        "barcode", str(tmp_path / "circle.npy"), "--density-k", "15", "--keep", "0.5",
        "--json", str(tmp_path / "bars.json"), "--plot", str(tmp_path / "bars.png")])
    assert code == 0
    record = json.loads((tmp_path / "bars.json").read_text())
    assert record["kept"] == 200 and record["h1"]["ratio"] > 10
    assert_drawn(tmp_path / "bars.png")
    assert "longest / next" in capsys.readouterr().out
    code = cli.main(["mapper", str(tmp_path / "circle.npy"), "--lens", "pca2", "--intervals",
                     "4", "--overlap", "0.3", "--eps", "0.3", "--cover", "kmapper", "--out",
                     str(tmp_path / "graph.json")])
    graph = json.loads((tmp_path / "graph.json").read_text())
    assert code == 0 and graph["graph"]["lens"] == "pca2"
    assert len(graph["links"]) - len(graph["nodes"]) + 1 == 1  # one component, one cycle
    assert len(graph["nodes"][0]["l2NormAvg"]) == 2  # the mean of a 2-D lens


WEIGHTS = "results/weights/digits-cnn/conv1"


def weights_config(snapshots, density_k) -> dict:
    config = tiny_config()
    config["weights"] = {
        "analyses": [{"model": "digits-cnn", "layers": ["conv1"], "slice": "summed"}],
        "seeds": 2, "epochs": 1, "snapshots": snapshots, "density_k": density_k,
        "keep": [50], "dynamics": {"density_k": 3, "keep": 50},
        "mapper": {"intervals": 3, "min_samples": 3}}
    return config


def weight_targets(snapshots, density_k) -> list[str]:
    cores = [f"{WEIGHTS}/{s}/k-{k}-keep-50/mapper.png" for k in density_k
             for s in ("final", "final-update")]
    cores += [f"{WEIGHTS}/iteration-{s}/k-3-keep-50/mapper.png" for s in snapshots]
    return [f"{WEIGHTS}/h1-bars.tsv", f"{WEIGHTS}/dynamics.png", *cores]


@pytest.mark.workflow
def test_workflow_reruns_only_what_a_new_snapshot_or_density_filter_needs(tmp_path):
    first = weights_config([0], [3])
    snakemake(tmp_path, write_config(tmp_path, first), *weight_targets([0], [3]))
    table = pd.read_csv(tmp_path / WEIGHTS / "h1-bars.tsv", sep="\t")
    assert sorted(table["snapshot"]) == ["final", "final-update", "iteration-0"]
    assert (table["filters"] == int(np.ceil(0.8 * 64))).all()  # 2 trainings × 32 summed
    assert_drawn(tmp_path / WEIGHTS / "dynamics.png")
    assert planned_outputs(tmp_path, tmp_path / "config.yaml",
                           *weight_targets([0], [3])) == {}

    # A new snapshot: the trainings (they take it), its points and dense core, and the
    # figures that show every snapshot; the existing snapshots' jobs stay.
    config = write_config(tmp_path, weights_config([0, 2], [3]), "snapshot.yaml")
    planned = planned_outputs(tmp_path, config, *weight_targets([0, 2], [3]))
    core = f"{WEIGHTS}/iteration-2/k-3-keep-50"
    assert planned["weight_points"] == [f"{WEIGHTS}/iteration-2/points.zarr"]
    assert sorted(planned["weight_core"]) == sorted(
        f"{core}/{name}" for name in ("dense.zarr", "barcode.npz", "summary.json",
                                      "mapper.zarr", "mapper.json", "nodes", "mapper.png"))
    assert set(planned) == {"train_weight_snapshots", "weight_points", "weight_core",
                            "weight_sweep", "weight_dynamics"}

    # A new k: only its dense core of the final weights and the sweep that reads it.
    config = write_config(tmp_path, weights_config([0], [3, 5]), "k.yaml")
    planned = planned_outputs(tmp_path, config, *weight_targets([0], [3, 5]))
    assert set(planned) == {"weight_core", "weight_sweep"}
    assert {path.rsplit("/", 1)[0] for path in planned["weight_core"]} == {
        f"{WEIGHTS}/final/k-5-keep-50", f"{WEIGHTS}/final-update/k-5-keep-50"}


@pytest.mark.workflow
def test_workflow_refuses_a_weight_layer_that_is_not_a_convolution(tmp_path):
    config = weights_config([0], [3])
    config["weights"]["analyses"][0]["layers"] = ["fc1"]
    result = snakemake(tmp_path, write_config(tmp_path, config), "results/weights/"
                       "digits-cnn/snapshots/final.zarr", check=False)
    assert result.returncode != 0
    assert "layer 'fc1' (module 'fc1') is not a convolution" in result.stdout + result.stderr
    assert not (tmp_path / "results/weights/digits-cnn/snapshots/final.zarr").exists()


def test_config_needs_step_zero_for_updates_and_a_known_layer():
    schema = ROOT / "workflow/schemas/config.schema.yaml"
    with pytest.raises(ConfigError, match=r"weights.updates needs the initialisation, step 0"):
        validate_config({"weights": {"snapshots": [10]}}, schema)
    assert validate_config({"weights": {"snapshots": [10], "updates": False}}, schema)
    with pytest.raises(ConfigError, match=r"weights.analyses\[0\].layers: unknown layer 'conv9'"):
        validate_config({"weights": {"analyses": [{"layers": ["conv9"]}]}}, schema)


def test_given_weights_are_one_training_with_every_slice_a_point(tmp_path, trained_model):
    path = tmp_path / "final.zarr"
    snapshots_for_model(None, trained_model, {"final": path}, architecture="small-cnn",
                        layers={"conv2": "conv2"}, seeds=[0], snapshots=[],
                        training=None, device=torch.device("cpu"))
    stored, attrs = store.read_weight_snapshot(path, "conv2")
    model, _ = models.load_model(trained_model)
    np.testing.assert_array_equal(stored[0], model.conv2[0].weight.detach().numpy())
    assert attrs["seeds"] == [0] and attrs["sources"] == {"weights": str(trained_model)}
    points_for_snapshot(path, tmp_path / "points.zarr", layer="conv2",
                        slice_mode="each", contrast_drop=0.0,
                        contrast_norm="euclidean", model="m")
    points, arrays, _ = store.read_weight_points(tmp_path / "points.zarr")
    assert len(points) == 64 * 32  # every O × I slice of conv2
    assert arrays["in_channel"].max() == 31 and arrays["out_channel"].max() == 63
    with pytest.raises(ValueError, match="no snapshot 'iteration-5' was taken"):
        snapshots_for_model(None, trained_model, {"iteration-5": tmp_path / "x.zarr"},
                            architecture="small-cnn", layers={"conv2": "conv2"},
                            seeds=[0], snapshots=[], training=None,
                            device=torch.device("cpu"))


@pytest.mark.parametrize("module, loads_torch", [
    ("topoact.weights.filters", False), ("topoact.weights.topology", False),
    ("topoact.weights.snapshots", True)])
def test_only_the_snapshot_step_imports_torch(tmp_path, module, loads_torch):
    """The points, sweep and dynamics jobs work on stored arrays: `filters` and
    `topology` import without torch (a core's engine pass loads it when it runs);
    `snapshots` trains, so it needs it."""
    assert imports_torch(module, tmp_path) == loads_torch
