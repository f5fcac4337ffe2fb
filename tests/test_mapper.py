"""Mapper: the KeplerMapper oracle, covers, known-answer graphs, Jaccard, degenerate input."""

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import kmapper as km
import numpy as np
import pytest
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN

from topoact import activations, mapper, models, names, passes, store
from topoact.graph import BuildCancelled, Cover, EngineOptions
from topoact.steps.activations import extract_activations
from topoact.steps.mapper import (
    GRAPH_FILES,
    GraphOutput,
    layer_graphs,
    mapper_for_store,
    shared_grid_graph,
)


def _kmapper_nodes(points, lens, n, p, eps, min_samples):
    graph = km.KeplerMapper(verbose=0).map(
        lens.reshape(-1, 1), points, clusterer=DBSCAN(eps=eps, min_samples=min_samples),
        cover=km.Cover(n_cubes=n, perc_overlap=p))
    return sorted(tuple(sorted(m)) for m in graph["nodes"].values()), graph


def _our_nodes(graph):
    return sorted(tuple(graph.members(i).tolist()) for i in range(graph.n_nodes))


def blobs_and_ring(seed=0):
    """Three Gaussian blobs and a noisy ring in 6-D, with duplicates and outliers."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(loc, 0.3, size=(150, 6)) for loc in (0.0, 3.0, 6.0)]
    angle = rng.uniform(0, 2 * np.pi, 200)
    ring = np.zeros((200, 6))
    ring[:, 0], ring[:, 1] = 4 * np.cos(angle), 4 * np.sin(angle)
    ring += rng.normal(0, 0.1, size=ring.shape)
    points = np.concatenate([*parts, ring, rng.uniform(-8, 8, size=(30, 6))])
    points = np.concatenate([points, points[:20]])  # exact duplicates
    return points.astype(np.float32)


@pytest.mark.parametrize("n,p,eps", [(10, 0.3, 0.6), (15, 0.5, 0.8), (7, 0.2, 0.45),
                                     (20, 0.0, 0.7)])
def test_kmapper_cover_reproduces_keplermapper_exactly(n, p, eps):
    points = blobs_and_ring()
    graph = mapper.build_mapper(points, n, p, eps, 5, cover="kmapper")
    theirs, _ = _kmapper_nodes(points, graph.lens, n, p, eps, 5)
    assert _our_nodes(graph) == theirs
    assert graph.n_nodes > 5


def test_kmapper_oracle_on_real_activations(tmp_path, trained_model, digits_store):
    model, _ = models.load_model(trained_model)
    out = tmp_path / "conv4.zarr"
    extract_activations(model, "conv4", digits_store, out,
                        activations.ExtractionSettings(sampling="top-l2"),
                        torch.device("cpu"), progress=False)
    points = store.read_activations(out).points
    for p in (0.2, 0.5):
        graph = mapper.build_mapper(points, 30, p, 3.0, 5, cover="kmapper")
        assert _our_nodes(graph) == _kmapper_nodes(points, graph.lens, 30, p, 3.0, 5)[0]
        assert graph.n_nodes > 10


def test_kmapper_json_export_matches_keplermapper_ids():
    points = blobs_and_ring()
    graph = mapper.build_mapper(points, 10, 0.3, 0.6, 5, cover="kmapper")
    _, theirs = _kmapper_nodes(points, graph.lens, 10, 0.3, 0.6, 5)
    ours = mapper.kmapper_json(graph)
    assert {k: sorted(v) for k, v in ours["nodes"].items()} == \
        {k: sorted(v) for k, v in theirs["nodes"].items()}
    assert {k: sorted(v) for k, v in ours["links"].items()} == \
        {k: sorted(v) for k, v in theirs["links"].items()}


def test_exact_cover_spans_the_range_with_the_requested_overlap():
    lens = np.array([2.0, 3.5, 7.25, 12.0])
    for n, p in [(70, 0.3), (5, 0.5), (1, 0.2), (9, 0.0)]:
        cover = mapper.exact_cover(lens, n, p)
        length = cover.upper - cover.lower
        assert cover.lower[0] == 2.0 and cover.upper[-1] == 12.0
        np.testing.assert_allclose(length, 10.0 / (n - (n - 1) * p))
        shared = cover.upper[:-1] - cover.lower[1:]
        np.testing.assert_allclose(shared, p * length[:-1], atol=1e-12)
    assert mapper.kmapper_cover(lens, 5, 0.3).lower[0] < 2.0  # KeplerMapper reaches past


@pytest.mark.parametrize("n,p", [(30, 0.3), (7, 0.5), (12, 0.0)])
def test_balanced_cover_intervals_hold_equal_counts(n, p):
    lens = np.random.default_rng(n).lognormal(0, 1, 4001)  # skewed: exact counts differ
    counts = np.array([len(m) for m in mapper.balanced_cover(lens, n, p).members(lens)])
    expected = (len(lens) - 1) / (n - (n - 1) * p)  # L·(N−1) ranks: that many or one more
    assert counts.max() - counts.min() <= 1 and np.abs(counts - expected).max() <= 1
    members = mapper.balanced_cover(lens, n, p).members(lens)
    shared = [len(np.intersect1d(a, b)) for a, b in zip(members, members[1:], strict=False)]
    np.testing.assert_allclose(shared, p * expected, atol=2)  # p of each interval's points
    exact = [len(m) for m in mapper.exact_cover(lens, n, p).members(lens)]
    assert max(exact) - min(exact) > 10 * len(lens) / n / 10  # the exact cover is uneven here


def test_balanced_cover_is_the_exact_cover_on_a_uniform_lens():
    lens = np.linspace(-2.0, 5.0, 1000)
    for n, p in [(10, 0.25), (30, 0.3), (70, 0.5)]:
        balanced, exact = mapper.balanced_cover(lens, n, p), mapper.exact_cover(lens, n, p)
        np.testing.assert_allclose(balanced.lower, exact.lower, atol=1e-12)
        np.testing.assert_allclose(balanced.upper, exact.upper, atol=1e-12)
        assert balanced.mode == "balanced"
    graph = mapper.build_mapper(blobs_and_ring(), 10, 0.3, 0.6, cover="balanced")
    assert graph.params["cover"] == "balanced" and graph.n_nodes > 5


def test_interval_membership_is_closed_and_uses_the_one_lens():
    lens = np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float32)
    cover = mapper.exact_cover(lens, 3, 0.0)  # [0,1], [1,2], [2,3]
    assert [m.tolist() for m in cover.members(lens)] == [[0, 1], [1, 2], [2, 3]]


def test_circle_gives_a_cycle_graph():
    angle = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.stack([np.cos(angle), np.sin(angle)], 1) + np.array([3.0, 0.0])
    graph = mapper.build_mapper(circle.astype(np.float32), 8, 0.3, 0.2, 3)
    degrees = np.bincount(graph.edges.ravel(), minlength=graph.n_nodes)
    # ‖x‖ over a circle off the origin: one node at each end, two branches between.
    assert graph.n_nodes == 14 and len(graph.edges) == graph.n_nodes
    assert (degrees == 2).all()
    assert graph.covered().all()


def test_two_separated_blobs_give_two_components():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.1, size=(200, 3)) + [5, 0, 0]
    b = rng.normal(0, 0.1, size=(200, 3)) + [0, 5, 0]  # same norm range, far apart
    graph = mapper.build_mapper(np.concatenate([a, b]).astype(np.float32), 5, 0.3, 0.3, 5)

    adjacency = coo_matrix((np.ones(len(graph.edges)), graph.edges.T),
                           shape=(graph.n_nodes, graph.n_nodes))
    count, component = connected_components(adjacency, directed=False)
    assert count == 2
    for node in range(graph.n_nodes):  # each component holds one blob's points only
        members = graph.members(node)
        assert (members < 200).all() or (members >= 200).all()


def test_jaccard_weights_on_a_hand_made_graph():
    # Node 0 = {0,1,2,3}, node 1 = {2,3,4}, node 2 = {4,5}, node 3 = {6}.
    indptr = np.array([0, 4, 7, 9, 10])
    indices = np.array([0, 1, 2, 3, 2, 3, 4, 4, 5, 6])
    edges, intersection, jaccard = mapper.graph_edges(indptr, indices, 7)
    assert edges.tolist() == [[0, 1], [1, 2]]
    assert intersection.tolist() == [2, 1]
    np.testing.assert_allclose(jaccard, [2 / 5, 1 / 4])


def test_node_stats_and_top_classes():
    points = np.array([[1, 0], [0, 2], [0, 0], [3, 4]], dtype=np.float32)
    graph = mapper.MapperGraph(
        indptr=np.array([0, 3, 4]), indices=np.array([0, 1, 3, 2]), interval=np.array([0, 1]),
        cover=mapper.Cover(np.zeros(2), np.ones(2), "exact"), lens=mapper.l2_lens(points),
        edges=np.zeros((0, 2), int), intersection=np.zeros(0, int), jaccard=np.zeros(0))
    stats = mapper.node_stats(graph, points, np.array([2, 0, 1, 2]), 3)
    assert stats.size.tolist() == [3, 1]
    np.testing.assert_allclose(stats.mean_lens, [(1 + 2 + 5) / 3, 0])
    np.testing.assert_allclose(stats.mean_activation[0], [4 / 3, 2])
    assert stats.class_counts.tolist() == [[1, 0, 2], [0, 1, 0]]
    order, percents = mapper.top_classes(stats.class_counts)
    assert order.tolist() == [[2, 0, -1], [1, -1, -1]]
    np.testing.assert_allclose(percents[0], [200 / 3, 100 / 3, 0])


def test_degenerate_inputs_give_valid_graphs():
    constant = np.tile([[3.0, 4.0]], (50, 1)).astype(np.float32)  # every norm is 5
    graph = mapper.build_mapper(constant, 10, 0.3, 0.1, 5)
    assert graph.n_nodes == 1 and graph.sizes.tolist() == [50]
    sparse_points = np.array([[0.0], [10.0], [20.0], [30.0]], dtype=np.float32)
    few = mapper.build_mapper(sparse_points, 2, 0.3, 1.0, 5)  # intervals of < 5 points
    assert few.n_nodes == 0 and len(few.edges) == 0 and not few.covered().any()
    noise = mapper.build_mapper(np.random.default_rng(0).uniform(0, 100, (300, 4)), 5, 0.3,
                                0.01, 5)
    assert noise.n_nodes == 0  # every point is noise: an empty graph, not a crash
    stats = mapper.node_stats(noise, np.zeros((300, 4)), np.zeros(300, int), 2)
    assert stats.class_counts.shape == (0, 2)
    assert mapper.node_link(noise, stats, ["a", "b"])["nodes"] == []


def test_bad_parameters_and_non_finite_points_are_rejected():
    points = np.ones((10, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="DBSCAN ε must be a positive number, got 0"):
        mapper.build_mapper(points, 5, 0.3, 0.0, 5)
    with pytest.raises(ValueError, match=r"overlap must be a fraction in \[0, 1\), got 30"):
        mapper.build_mapper(points, 5, 30, 1.0, 5)
    bad = points.copy()
    bad[3, 1] = np.nan
    bad[7] = np.inf
    with pytest.raises(ValueError, match=r"4 NaN/inf value\(s\) in 2 of 10 rows \(first rows: "
                                         r"\[3, 7\]\)"):
        mapper.build_mapper(bad, 5, 0.3, 1.0, 5)


def test_grid_names_and_percent_labels():
    assert names.percent_label(30) == names.percent_label(30.0) == names.percent_label("30")
    assert names.percent_label(12.5) == "12.5"
    assert names.grid_name(30.0, "adaptive") == "overlap-30-epsilon-adaptive"
    assert names.grid_name(30, "adaptive", "kmapper") == "overlap-30-epsilon-adaptive"
    assert (names.grid_name(30, "fixed", "balanced")
            == "cover-balanced-overlap-30-epsilon-fixed")
    with pytest.raises(ValueError, match="unknown ε mode 'auto'"):
        names.grid_name(30, "auto")


def test_float32_rounding_is_pythons_round():
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, scale, 20_000).astype(np.float32)
                             for scale in (1e-6, 1e-3, 1.0, 1e4, 1e30)]
                            + [np.arange(-600, 600, dtype=np.float32) / 128])  # exact ties
    for digits in (3, 6, 7):
        assert mapper.round_float32(values, digits).tolist() == [round(float(v), digits)
                                                                for v in values]


def test_store_round_trip_and_node_link_fields(tmp_path):
    points = blobs_and_ring()
    labels = (np.arange(len(points)) % 3).astype(np.int16)
    cloud = tmp_path / "cloud.zarr"
    with store.atomic_group(cloud, "activations", {"classes": ["x", "y", "z"]}) as group:
        writer = store.ActivationWriter(group, len(points), points.shape[1])
        writer.append(points, np.arange(len(points)), np.zeros((len(points), 2)), labels)
        writer.close()
    built = mapper_for_store(cloud, tmp_path / "g.zarr", tmp_path / "g.json",
                             tmp_path / "g.kmapper.json", intervals=10, overlap=0.3,
                             eps=0.6, min_samples=5, cover="exact", progress=False)
    graph, stats, attrs = store.read_graph(tmp_path / "g.zarr")
    assert _our_nodes(graph) == _our_nodes(built)
    np.testing.assert_array_equal(graph.jaccard, built.jaccard)
    assert attrs["classes"] == ["x", "y", "z"] and attrs["graph_params"]["eps"] == 0.6
    exported = json.loads((tmp_path / "g.json").read_text())
    node = exported["nodes"][0]
    for key in ("id", "membership", "top_classes", "top_class_percents", "l2NormAvg",
                "average_activation"):
        assert key in node
    assert set(node["top_classes"]) <= {"x", "y", "z"} and len(node["average_activation"]) == 6
    assert {"source", "target", "intersection", "jaccard"} <= set(exported["links"][0])


def _shared_outputs(directory, overlap, eps, name):
    return GraphOutput(overlap, eps, directory / f"{name}.zarr", directory / f"{name}.json",
                       directory / f"{name}.kmapper.json", {"name": name})


def test_a_layers_graph_jobs_share_one_engine_pass_and_never_a_stale_one(tmp_path):
    """mapper.jobs: shared — the first graph of a layer runs the engine for the layer's
    whole grid, the others copy theirs; every copy equals the graph built alone; a graph
    the cache lacks is added to it by a pass of its own, leaving the others' files as
    they were; a rewritten cloud makes the next job build the whole pass again."""
    points = blobs_and_ring()
    cloud = tmp_path / "cloud.npy"
    np.save(cloud, points)
    cache = tmp_path / "pass"
    grid = [(p, e) for p in (0.2, 0.4) for e in (0.5, 0.7)]
    layer = [GraphOutput(p, e, None, None, None, {"name": f"{p}-{e}"}) for p, e in grid]
    settings = {"intervals": 8, "min_samples": 5, "cover": "exact"}

    def job(p, e, folder="out", graphs=layer):
        output = _shared_outputs(tmp_path / folder, p, e, f"{p}-{e}")
        built, stats = shared_grid_graph(cloud, cache, output, graphs, **settings)
        assert (stats is None) == (not built) and (not built or f"{p}-{e}" in built)
        graph, _, attrs = store.read_graph(output.graph_path)
        alone = mapper.build_mapper(np.load(cloud), 8, p, e, 5)
        assert _our_nodes(graph) == _our_nodes(alone) and alone.n_nodes > 1
        assert attrs["name"] == f"{p}-{e}" and (tmp_path / folder / f"{p}-{e}.json").exists()
        return "pass" if built else "copied"

    def cached():
        return {name: ((cache / f"{name}.json").stat().st_mtime_ns, entry)
                for name, entry in store.read_json(cache / "index.json")["graphs"].items()}

    assert [job(p, e) for p, e in grid] == ["pass", "copied", "copied", "copied"]
    first = cached()
    assert sorted(first) == sorted(f"{p}-{e}" for p, e in grid)
    assert job(0.2, 0.6, "other") == "pass"    # an ε the pass did not build: added alone
    assert {n: v for n, v in cached().items() if n != "0.2-0.6"} == first
    assert job(0.4, 0.7, "again") == "copied"
    np.save(cloud, points[::-1].copy())        # the cloud written again: nothing reused
    assert job(0.4, 0.7, "rewritten") == "pass"
    rebuilt = cached()
    assert sorted(rebuilt) == sorted(first) and all(
        rebuilt[n][0] != first[n][0] for n in first)
    # A layer graph without its ε yet (the adaptive estimate is still to come): the pass
    # builds what has an ε, and the graph joins the cache once its ε is known.
    fixed = GraphOutput(0.3, 0.7, None, None, None, {"name": "0.3-0.7"})
    waiting = GraphOutput(0.3, None, None, None, None, {"name": "0.3-0.5"})
    assert job(0.3, 0.7, "early", [*layer, fixed, waiting]) == "pass"
    early = cached()
    assert sorted(early) == sorted([*rebuilt, "0.3-0.7"])
    assert {n: early[n] for n in rebuilt} == rebuilt  # only the fixed graph was built
    assert job(0.3, 0.5, "known", [*layer, fixed, replace(waiting, eps=0.5)]) == "pass"
    now = cached()
    assert sorted(now) == sorted([*early, "0.3-0.5"])
    assert {n: now[n] for n in early} == early  # the graphs cached before are untouched
    # A grid without the 0.3 graphs: they leave the cache with the next pass.
    smaller = [*layer, GraphOutput(0.4, 0.6, None, None, None, {"name": "0.4-0.6"})]
    assert job(0.4, 0.6, "smaller", smaller) == "pass"
    assert sorted(cached()) == sorted([*rebuilt, "0.4-0.6"])
    assert not any(cache.glob("0.3-*"))


def test_a_pass_with_reports_lets_the_other_jobs_copy_without_the_engine(tmp_path):
    """The workflow's jobs: the pass writes each graph's report files too (a callback), and
    a job whose entry the cache holds copies all its files with topoact.passes alone (no
    engine, pandas or matplotlib); an entry built without reports, another ε, or a
    rewritten cloud is not copied."""
    points = blobs_and_ring()
    cloud = tmp_path / "cloud.npy"
    np.save(cloud, points)
    cache, settings = tmp_path / "pass", {"intervals": 8, "min_samples": 5, "cover": "exact"}
    layer = [GraphOutput(0.3, e, None, None, None, {"name": f"e{e}"}) for e in (0.5, 0.7)]
    reported = []

    def report(name, base):
        reported.append(name)
        Path(f"{base}.txt").write_text(f"report of {name}")

    first = _shared_outputs(tmp_path / "first", 0.3, 0.5, "e0.5")
    files = {**dict(zip(GRAPH_FILES.values(), first.files(), strict=True)),
             ".txt": tmp_path / "first/e0.5.txt"}
    built, _ = shared_grid_graph(cloud, cache, first, layer, report=report, files=files,
                                 **settings)
    assert sorted(built) == sorted(reported) == ["e0.5", "e0.7"]
    assert (tmp_path / "first/e0.5.txt").read_text() == "report of e0.5"
    source = passes.cloud_source(cloud)
    entry = passes.graph_entry(0.3, 0.7, 8, 5, "exact", report=True)
    targets = {".zarr": tmp_path / "copy/g.zarr", ".json": tmp_path / "copy/g.json",
               ".kmapper.json": tmp_path / "copy/g.kmapper.json", ".txt": tmp_path / "copy/g.txt"}
    assert passes.copy_from_pass(cache, source, "e0.7", entry, targets)
    assert (tmp_path / "copy/g.txt").read_text() == "report of e0.7"
    graph, _, _ = store.read_graph(tmp_path / "copy/g.zarr")
    assert _our_nodes(graph) == _our_nodes(mapper.build_mapper(points, 8, 0.3, 0.7, 5))
    for stale in ({**entry, "report": False}, {**entry, "eps": 0.6}):
        assert not passes.copy_from_pass(cache, source, "e0.7", stale, {".txt": tmp_path / "x"})
    np.save(cloud, points[::-1].copy())
    assert not passes.copy_from_pass(cache, passes.cloud_source(cloud), "e0.7", entry,
                                     {".txt": tmp_path / "x"})
    assert not (tmp_path / "x").exists()
    # Copying needs none of the heavy modules (a fresh interpreter shows it).
    loaded = subprocess.run([sys.executable, "-c", "import sys; from topoact import passes, "
                             "names, files, jobs; print(' '.join(sorted(sys.modules)))"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert not {"torch", "numpy", "pandas", "matplotlib", "zarr"} & set(loaded)


def test_graph_jobs_of_one_layer_running_together_build_its_pass_once(tmp_path):
    """Two jobs of one layer at once take turns on the layer's lock: one runs the
    engine, the other copies (file locks are per open file, so threads show it)."""
    cloud = tmp_path / "cloud.npy"
    np.save(cloud, blobs_and_ring())
    layer = [GraphOutput(p, 0.6, None, None, None, {"name": f"{p}"}) for p in (0.2, 0.3)]

    def job(p):
        return shared_grid_graph(cloud, tmp_path / "pass",
                                 _shared_outputs(tmp_path / "out", p, 0.6, f"{p}"),
                                 layer, intervals=8, min_samples=5, cover="exact")

    with ThreadPoolExecutor(2) as pool:
        built = sorted(sorted(names) for names, _ in pool.map(job, (0.2, 0.3)))
    assert built == [[], ["0.2", "0.3"]]


def test_the_layer_grid_knows_the_adaptive_epsilon_once_it_is_estimated(tmp_path):
    attrs = {"layer": "fc1"}
    estimate = tmp_path / "fc1.json"
    graphs = layer_graphs(attrs, names.grid_parameters([20, 50], ["adaptive", "fixed"]),
                                4.0, estimate, "exact")
    assert [(g.overlap, g.eps, g.attrs["name"]) for g in graphs] == [
        (0.2, None, "overlap-20-epsilon-adaptive"), (0.2, 4.0, "overlap-20-epsilon-fixed"),
        (0.5, None, "overlap-50-epsilon-adaptive"), (0.5, 4.0, "overlap-50-epsilon-fixed")]
    store.write_json(estimate, {"epsilon": 2.5})
    graphs = layer_graphs(attrs, [(20, "adaptive"), (20, "fixed")], 4.0, estimate,
                                "balanced")
    assert [(g.eps, g.attrs["name"], g.attrs["layer"]) for g in graphs] == [
        (2.5, "cover-balanced-overlap-20-epsilon-adaptive", "fc1"),
        (4.0, "cover-balanced-overlap-20-epsilon-fixed", "fc1")]


@pytest.mark.parametrize("cover", list(names.COVERS))
def test_a_product_covers_cubes_found_from_coordinates_equal_testing_every_cube(cover, rng):
    lens = rng.normal(size=(400, 2))
    lens[:40] = lens[0]  # ties on cube boundaries' sides
    lens[40:60, 1] = 0.0
    for intervals, overlap in [(1, 0.0), (6, 0.3), (17, 0.5), (40, 0.2)]:
        product = mapper.make_cover(lens, intervals, overlap, cover)
        assert product.shape == (intervals, intervals)
        every_cube = Cover(product.lower, product.upper, product.mode)  # no shape: brute
        found, tested = product.members(lens), every_cube.members(lens)
        assert len(found) == len(tested) == intervals ** 2
        assert all(np.array_equal(a, b) for a, b in zip(found, tested, strict=True))
        assert (product.sizes(lens) == [len(m) for m in tested]).all()
    # A constant coordinate has one interval (KeplerMapper's: n, all the same point).
    flat = np.c_[np.ones(50), rng.normal(size=50)]
    product = mapper.make_cover(flat, 7, 0.3, cover)
    assert product.shape == ((7, 7) if cover == "kmapper" else (1, 7))
    tested = Cover(product.lower, product.upper, product.mode).members(flat)
    assert all(np.array_equal(a, b)
               for a, b in zip(product.members(flat), tested, strict=True))


def test_a_2d_lens_with_a_million_cubes_builds_and_more_are_refused(tmp_path, rng):
    points = rng.normal(size=(50, 8)).astype(np.float32)
    lens = mapper.make_lens(points, "pca2")
    graph = mapper.build_mapper(points, 1000, 0.3, 2.0, 1, lens=lens, lens_name="pca2")
    assert graph.cover.shape == (1000, 1000) and graph.covered().all()
    store.write_graph(tmp_path / "g.zarr", graph, mapper.node_stats(
        graph, points, np.zeros(50, int), 1), {})
    assert store.read_graph(tmp_path / "g.zarr")[0].cover.shape == (1000, 1000)
    with pytest.raises(ValueError, match=r"25,000,000 cubes; at most 1,000,000"):
        mapper.build_mapper(points, 5000, 0.3, 2.0, 1, lens=lens)


def test_thousands_of_clusters_in_one_interval_are_split_as_by_label_masks(rng):
    members = np.sort(rng.choice(100_000, 20_000, replace=False))
    labels = rng.integers(-1, 5000, len(members))
    found: tuple[list, list] = ([], [])
    mapper.add_clusters(found, 3, members, labels)
    expected = [members[labels == c] for c in range(labels.max() + 1)]
    assert len(found[0]) == len(expected) and set(found[1]) == {3}
    assert all(np.array_equal(a, b) for a, b in zip(found[0], expected, strict=True))
    # A resample's repeated members: each once.
    repeated, again = np.repeat(members[:10], 2), ([], [])
    mapper.add_clusters(again, 0, repeated, np.repeat(np.arange(10) % 3, 2), distinct=True)
    assert [len(m) for m in again[0]] == [4, 3, 3]


def test_a_cancelled_build_stops_between_intervals(rng):
    points = rng.normal(size=(3000, 4)).astype(np.float32)
    asked = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(BuildCancelled):
        mapper.build_mapper(points, 40, 0.3, 0.5, 5,
                            engine=EngineOptions(workers=2, cancel=cancel))
    assert 6 <= len(asked) < 40  # it stopped, and the later intervals never started


def test_concurrent_builds_leave_torchs_thread_count_as_it_was(rng):
    """Build A starts (torch to one thread), B starts, A ends, B ends: the count is back."""
    points = rng.normal(size=(2000, 4)).astype(np.float32)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    b_started, a_done = threading.Event(), threading.Event()

    def build(first: bool) -> int:
        def cancel() -> bool:
            if first:
                b_started.wait(10)
            else:
                b_started.set()
                a_done.wait(10)
            return False
        graph = mapper.build_mapper(points, 10, 0.3, 0.5, 5,
                                    engine=EngineOptions(workers=2, cancel=cancel))
        if first:
            a_done.set()
        return graph.n_nodes

    try:
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.submit(build, True), pool.submit(build, False)
            assert a.result(30) == b.result(30) > 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
