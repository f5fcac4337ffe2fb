"""Stability of mapper graphs: extended persistence (gudhi and an independent reduction),
bootstrap significance on known shapes, graph distances, bad input."""

import itertools
import math

import gudhi
import numpy as np
import pytest
from gudhi.nerve_gic import CoverComplex

from topoact import engine, mapper, stability, store
from topoact.steps import stability as stability_steps
from topoact.steps.mapper import GraphOutput, mapper_grid_for_store
from topoact.steps.stability import (
    StabilityOutput,
    layer_outputs,
    read_distance_tables,
    shared_graph_stability,
    write_graph_stability,
)

# gudhi's extended_persistence lists, in its order, as our kinds.
GUDHI_KINDS = {0: "downward branch", 1: "upward branch", 2: "component", 3: "loop"}


def reduced_extended_diagram(n_nodes, edges, values):
    """Extended persistence by the textbook route, without gudhi: the cone filtration
    (cone vertex, sublevel simplices ascending, then the cone over each simplex in
    descending order of its lowest value) reduced over Z/2; pairs read by where they
    live (ordinary, extended, relative) and their dimension."""
    cone = n_nodes
    simplices = [(v,) for v in range(n_nodes)] + [tuple(sorted(e)) for e in edges]
    high = {s: max(values[v] for v in s) for s in simplices}
    low = {s: min(values[v] for v in s) for s in simplices}
    ordinary = sorted(simplices, key=lambda s: (high[s], len(s), s))
    relative = sorted(simplices, key=lambda s: (-low[s], len(s), s))
    order = [(cone,)] + ordinary + [tuple(sorted(s + (cone,))) for s in relative]
    index = {s: i for i, s in enumerate(order)}
    columns = []
    for s in order:
        faces = [s[:k] + s[k + 1:] for k in range(len(s))] if len(s) > 1 else []
        columns.append({index[f] for f in faces})
    pivot_of = {}
    pairs = []
    for j, column in enumerate(columns):
        while column and max(column) in pivot_of:
            column ^= columns[pivot_of[max(column)]]
        if column:
            pivot_of[max(column)] = j
            pairs.append((max(column), j))
    found = []
    for i, j in pairs:
        born, dies = order[i], order[j]
        value = lambda s: (min(values[v] for v in s if v != cone) if cone in s  # noqa: E731
                           else max(values[v] for v in s))
        if cone in born:
            kind = "upward branch"
        elif cone not in dies:
            kind = "downward branch"
        else:
            kind = "component" if len(born) == 1 else "loop"
        if value(born) != value(dies):
            found.append((kind, value(born), value(dies)))
    return sorted(found)


def ours(n_nodes, edges, values):
    d = stability.extended_diagram(n_nodes, np.array(edges).reshape(-1, 2), values)
    return sorted((stability.KINDS[k], b, e) for k, b, e in zip(d.kind, d.birth, d.death,
                                                              strict=True))


def gudhis(n_nodes, edges, values):
    tree = gudhi.SimplexTree()
    for v in range(n_nodes):
        tree.insert([v], values[v])
    for a, b in edges:
        tree.insert([a, b], max(values[a], values[b]))
    tree.extend_filtration()
    lists = tree.extended_persistence()
    return sorted((GUDHI_KINDS[t], b, d) for t, points in enumerate(lists)
                  for _, (b, d) in points)


def random_graph(seed, n_nodes=14, n_edges=20):
    rng = np.random.default_rng(seed)
    pairs = {tuple(sorted(rng.choice(n_nodes, 2, replace=False))) for _ in range(n_edges)}
    return n_nodes, sorted(pairs), rng.permutation(n_nodes).astype(float) + rng.uniform(0, .5)


def assert_same_diagrams(a, b, atol=0.0):
    assert [k for k, *_ in a] == [k for k, *_ in b]
    np.testing.assert_allclose([x[1:] for x in a], [x[1:] for x in b], atol=atol)


def test_hand_made_graphs_have_their_known_diagrams():
    # A square 0-1-2-3 with a tail 2-4: one component [0, 3] and one loop from 2 down to 0.
    square = (5, [(0, 1), (1, 2), (2, 3), (3, 0), (2, 4)], np.array([0, 1, 2, 1.5, 3.0]))
    assert ours(*square) == [("component", 0.0, 3.0), ("loop", 2.0, 0.0)]
    # A Y around a centre at 1: a branch down to 0.5 and one up to 2.5.
    y_down = (4, [(0, 1), (0, 2), (0, 3)], np.array([1.0, 0.0, 0.5, 2.0]))
    assert ours(*y_down) == [("component", 0.0, 2.0), ("downward branch", 0.5, 1.0)]
    y_up = (4, [(0, 1), (0, 2), (0, 3)], np.array([1.0, 0.0, 3.0, 2.5]))
    assert ours(*y_up) == [("component", 0.0, 3.0), ("upward branch", 2.5, 1.0)]
    # Two components; an isolated node is a component of zero persistence (not listed).
    two = (5, [(0, 1), (2, 3)], np.array([0.0, 1.0, 5.0, 7.0, 9.0]))
    assert ours(*two) == [("component", 0.0, 1.0), ("component", 5.0, 7.0)]
    assert len(stability.extended_diagram(0, np.zeros((0, 2)), np.zeros(0))) == 0


@pytest.mark.parametrize("seed", range(12))
def test_diagrams_equal_gudhis_and_an_independent_reduction(seed):
    graph = random_graph(seed)
    mine = ours(*graph)
    assert_same_diagrams(mine, reduced_extended_diagram(*graph))
    assert_same_diagrams(mine, gudhis(*graph), atol=1e-9)  # gudhi rescales its values
    assert {k for k, *_ in mine} >= {"component", "loop"}


def test_feature_nodes_are_the_loop_the_branch_and_the_component():
    values = np.array([0, 1, 2, 1.5, 3.0, 0.5])
    edges = np.array([(0, 1), (1, 2), (2, 3), (3, 0), (2, 4), (1, 5)])
    d = stability.extended_diagram(6, edges, values, representatives=True)
    nodes = {stability.KINDS[k]: n.tolist() for k, n in zip(d.kind, d.nodes, strict=True)}
    assert nodes == {"component": [0, 1, 2, 3, 4, 5], "loop": [0, 1, 2, 3],
                     "downward branch": [5]}
    # Upward branch: the nodes above the value where it merges.
    d = stability.extended_diagram(5, np.array([(0, 1), (1, 2), (2, 3), (1, 4)]),
                                   np.array([0, 1, 2, 3, 1.5]), representatives=True)
    assert [n.tolist() for k, n in zip(d.kind, d.nodes, strict=True) if k == 2] == [[4]]


def brute_force_bottleneck(a: np.ndarray, b: np.ndarray) -> float:
    """Bottleneck distance (L∞) of two small diagrams by trying every matching, each
    point allowed to go to the diagonal: the definition, without a library."""
    to_diagonal = [abs(d - b_) / 2 for b_, d in [*a, *b]]
    n, m = len(a), len(b)
    best = np.inf
    for order in itertools.permutations(range(n + m)):
        cost = 0.0
        for i, j in enumerate(order):  # slot i of a ∪ diag(b) takes slot j of b ∪ diag(a)
            if i < n and j < m:
                cost = max(cost, float(np.abs(a[i] - b[j]).max()))
            elif i < n:
                cost = max(cost, to_diagonal[i])
            elif j < m:
                cost = max(cost, to_diagonal[n + j])
        best = min(best, cost)
    return float(best)


def random_diagram(rng, kinds=range(4)) -> stability.Diagram:
    """Up to 3 features of each kind; upward branches and loops die below their birth."""
    kind, birth, death = [], [], []
    for k in kinds:
        for _ in range(rng.integers(0, 4)):
            b, d = sorted(rng.uniform(0, 5, 2))
            kind.append(k)
            birth.append(d if k >= 2 else b)
            death.append(b if k >= 2 else d)
    n = len(kind)
    return stability.Diagram(np.array(kind, dtype=np.int64), np.array(birth),
                             np.array(death), [np.zeros(0, np.int64)] * n)


def test_bottleneck_of_extended_diagrams_known_answers_and_brute_force():
    """Our distance of extended diagrams: kinds never match each other, a branch that
    descends (birth above death) is the same feature as its ascending twin, and the
    largest kind's distance wins — by hand, and against every matching tried (kinds:
    component, downward branch, upward branch, loop)."""
    def diagram(*features):
        kinds, births, deaths = zip(*features, strict=True) if features else ((), (), ())
        return stability.Diagram(np.array(kinds, dtype=np.int64), np.array(births, float),
                                 np.array(deaths, float),
                                 [np.zeros(0, np.int64)] * len(kinds))

    empty = diagram()
    assert stability.bottleneck(diagram((3, 0.0, 2.0)), empty) == 1.0   # loop to diagonal
    assert stability.bottleneck(diagram((2, 3.0, 1.0)), empty) == 1.0   # an upward branch
    assert stability.bottleneck(diagram((2, 3.0, 1.0)), diagram((2, 3.25, 1.0))) == 0.25
    # The same interval as a component and as a loop: each goes to the diagonal.
    assert stability.bottleneck(diagram((2, 0.0, 1.0)), diagram((3, 0.0, 1.0))) == 0.5
    assert stability.bottleneck(diagram((2, 0.0, 4.0), (3, 1.0, 2.0)),
                                diagram((2, 0.3, 4.2), (3, 1.0, 2.0))) == pytest.approx(0.3)
    rng = np.random.default_rng(3)
    for _ in range(25):
        a, b = random_diagram(rng), random_diagram(rng)
        expected = max(brute_force_bottleneck(a.points(k), b.points(k)) for k in range(4))
        assert stability.bottleneck(a, b) == pytest.approx(expected, abs=1e-9)
        assert stability.bottleneck(a, a) == 0


def gudhi_bootstrap_distances(bootstrap: int = 100):
    """gudhi's own CoverComplex of a noisy circle with its bootstrap distribution of B
    distances (gudhi's resampling; read back exactly: level (k + ½)/B is element k)."""
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 150)
    points = np.stack([np.cos(angle), np.sin(angle)], 1) + rng.normal(0, 0.05, (150, 2))
    complex_ = CoverComplex()
    complex_.set_verbose(False)
    complex_.set_type("GIC")
    complex_.set_point_cloud_from_range(points.tolist())
    complex_.set_function_from_coordinate(0)
    complex_.set_color_from_coordinate(0)
    complex_.set_graph_from_rips(0.3)
    complex_.set_resolution_with_interval_number(8)
    complex_.set_gain(0.3)
    complex_.set_cover_from_function()
    complex_.find_simplices()
    complex_.compute_PD()
    complex_.compute_distribution(bootstrap)
    ordered = [complex_.compute_distance_from_confidence_level((k + 0.5) / bootstrap)
               for k in range(bootstrap)]
    return complex_, np.array(ordered)


def test_d_alpha_and_confidence_equal_gudhis_cover_complex():
    """Our d_α and confidence from gudhi's own distribution (shuffled) equal gudhi's
    CoverComplex answers: at α = 0.29, B = 100, where ⌊αB⌋ rounds down to 28 in floating
    point, at other levels, and at distances equal to a resampled distance (ties)."""
    complex_, ordered = gudhi_bootstrap_distances(100)
    assert math.floor(0.29 * 100) == 28 and len(set(ordered)) < 100  # the cases in question
    shuffled = np.random.default_rng(1).permutation(ordered)
    for alpha in (0.29, 0.05, 0.5, 0.57, 0.9, 0.99):
        assert stability.distance_at_confidence(shuffled, alpha) == \
            complex_.compute_distance_from_confidence_level(alpha), alpha
    assert stability.distance_at_confidence(shuffled, 0.29) == ordered[28]
    tied = [d for d in ordered if (ordered == d).sum() > 1]
    between = (ordered[:-1] + ordered[1:]) / 2
    for distance in [*ordered[::7], *tied, *between[::9], ordered[-1] + 1, 0.0]:
        assert stability.confidence_at_distance(shuffled, distance) == pytest.approx(
            complex_.compute_confidence_level_from_distance(float(distance)), abs=1e-12)


def noisy_circle(rng, n, centre=(0.0, 0.0), noise=0.05):
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([centre[0] + np.cos(angle), centre[1] + np.sin(angle)], axis=1) \
        + rng.normal(0, noise, (n, 2))


def significant(points, intervals, overlap, eps, bootstrap=100):
    graph = mapper.build_mapper(points, intervals, overlap, eps, 5, lens=points[:, 0])
    result = stability.graph_stability(graph, points, bootstrap, 0.9, seed=1)
    rows = stability.feature_rows(result)
    return [r["kind"] for r in rows if r["significant"]], rows, result


def test_a_noisy_circles_loop_is_significant():
    kinds, rows, result = significant(noisy_circle(np.random.default_rng(1), 800), 10, 0.4, 0.2)
    assert kinds.count("loop") == 1
    loop = next(r for r in rows if r["kind"] == "loop")
    assert loop["persistence"] / 2 > result.d_alpha and loop["confidence"] >= 0.9
    assert len(loop["nodes"]) >= 10  # the cycle runs round the graph


def test_a_figure_eights_two_loops_are_significant():
    rng = np.random.default_rng(2)
    points = np.concatenate([noisy_circle(rng, 800, (-1, 0)), noisy_circle(rng, 800, (1, 0))])
    kinds, _, _ = significant(points, 16, 0.4, 0.2)
    assert kinds.count("loop") == 2


def test_a_gaussian_blob_has_no_significant_loop():
    rng = np.random.default_rng(3)
    kinds, rows, _ = significant(rng.normal(0, 1, (800, 2)), 12, 0.3, 0.25)
    assert "loop" not in kinds
    assert "component" in kinds


def test_bad_input_and_a_graph_without_nodes():
    points = noisy_circle(np.random.default_rng(0), 100)
    graph = mapper.build_mapper(points, 5, 0.3, 0.3, lens=points[:, 0])
    with pytest.raises(ValueError, match="bootstrap B must be a positive integer, got 0"):
        stability.graph_stability(graph, points, bootstrap=0)
    for alpha in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="confidence α must be in \\(0, 1\\)"):
            stability.graph_stability(graph, points, confidence=alpha)
    with pytest.raises(ValueError, match="50 points, but the graph was built on 100"):
        stability.bootstrap_distances(graph, points[:50], 3)
    empty = mapper.build_mapper(points, 5, 0.3, 1e-6, min_samples=5, lens=points[:, 0])
    assert empty.n_nodes == 0
    result = stability.graph_stability(empty, points, bootstrap=5)
    assert stability.feature_rows(result) == [] and np.isnan(result.d_alpha)
    assert stability.stability_record(result)["d_alpha"] is None


def test_membership_similarity_known_answers():
    points = noisy_circle(np.random.default_rng(0), 300)
    a = mapper.build_mapper(points, 8, 0.3, 0.3, lens=points[:, 0])
    assert stability.membership_similarity(a, a) == 1.0
    # Hand-made: A = {0,1,2,3}, {4,5}; B = {0,1}, {2,3,4,5}.
    def graph(nodes):
        indptr = np.cumsum([0] + [len(n) for n in nodes])
        members = np.concatenate(nodes) if nodes else np.zeros(0, np.int64)
        return mapper.MapperGraph(indptr, members, np.zeros(len(nodes)),
                                  a.cover, np.zeros(6), np.zeros((0, 2)), np.zeros(0),
                                  np.zeros(0))
    ga, gb = graph([np.arange(4), np.array([4, 5])]), graph([np.array([0, 1]), np.arange(2, 6)])
    forward = (4 * max(2 / 4, 2 / 6) + 2 * (2 / 4)) / 6  # A's nodes' best Jaccard in B
    backward = (2 * (2 / 4) + 4 * max(2 / 6, 2 / 4)) / 6
    assert stability.membership_similarity(ga, gb) == pytest.approx((forward + backward) / 2)
    assert stability.membership_similarity(ga, graph([])) == 0.0
    comparison = stability.compare_graphs({"a": ga, "b": gb, "a2": ga})
    assert comparison.similarity[0, 2] == 1.0 and comparison.bottleneck[0, 2] == 0.0
    assert len(comparison.rows()) == 3


@pytest.mark.parametrize("histogram_bins", [1 << 22, 16])
def test_resampled_graphs_equal_a_rebuild_of_each_resample(monkeypatch, histogram_bins):
    # 16 bins: the neighbour counts take the pair-by-pair path of many patterns.
    monkeypatch.setattr(engine.tiles, "HISTOGRAM_BINS", histogram_bins)
    rng = np.random.default_rng(5)
    points = np.concatenate([noisy_circle(rng, 300), rng.normal(0, 0.3, (100, 2))])
    points = np.concatenate([points, points[:30]]).astype(np.float32)  # exact duplicates
    for cover in ("exact", "kmapper"):
        graph = mapper.build_mapper(points, 9, 0.35, 0.15, 4, cover=cover, lens=points[:, 0])
        samples = [np.sort(rng.integers(0, len(points), len(points))) for _ in range(6)]
        batched = mapper.resampled_graphs(graph, points, samples)
        for sample, mine in zip(samples, batched, strict=True):
            one = mapper.rebuild(graph, points[sample], graph.lens[sample])
            for name in ("indptr", "indices", "interval", "edges", "intersection"):
                np.testing.assert_array_equal(getattr(mine, name), getattr(one, name))
            assert mine.n_nodes > 5 and mine.params == graph.params


def _layer_of_graph_stores(tmp_path, points, names_eps):
    """Graph stores laid out as the workflow lays them out: {parameters}/{layer}.zarr."""
    cloud = tmp_path / "cloud.npy"
    np.save(cloud, points.astype(np.float32))
    outputs = [GraphOutput(0.4, eps, tmp_path / "mapper" / name / "conv3.zarr",
                           tmp_path / "mapper" / name / "conv3.json",
                           tmp_path / "mapper" / name / "conv3.kmapper.json",
                           {"name": name}) for name, eps in names_eps.items()]
    mapper_grid_for_store(cloud, outputs, intervals=8, min_samples=5, cover="exact",
                          progress=False)
    return cloud


def _stability_job(tmp_path, name, folder):
    meta = {"dataset": "d", "model": "m", "seed": 0, "sampling": "random", "layer": "conv3",
            "parameters": name}
    out = tmp_path / folder / name
    return StabilityOutput(str(tmp_path / "mapper" / name / "conv3.zarr"),
                           out / "conv3.tsv", out / "conv3.json", out / "conv3.png",
                           meta)


def test_a_layers_stability_jobs_share_one_pass_and_never_a_stale_one(tmp_path, monkeypatch):
    """The first stability job of a small cloud's layer computes every graph of the layer;
    the others copy theirs, file for file what the job alone writes; a graph store or
    setting that changed makes the next job compute the pass again."""
    names_eps = {"a": 0.2, "b": 0.25, "c": 0.3}
    cloud = _layer_of_graph_stores(tmp_path, noisy_circle(np.random.default_rng(1), 600),
                                   names_eps)
    cache, settings = tmp_path / "pass", {"bootstrap": 20, "confidence": 0.9, "seed": 1}
    layer = layer_outputs(_stability_job(tmp_path, "a", "x"), list(names_eps))
    assert [o.graph for o in layer] == [str(tmp_path / "mapper" / n / "conv3.zarr")
                                        for n in names_eps]

    def job(name, folder="shared", **changed):
        output = _stability_job(tmp_path, name, folder)
        how = shared_graph_stability(cloud, cache, output, layer,
                                     **{**settings, **changed})
        alone = _stability_job(tmp_path, name, f"alone-{folder}")
        write_graph_stability(alone, cloud, **{**settings, **changed})
        for mine, reference in ((output.features, alone.features),
                                (output.record, alone.record), (output.plot, alone.plot)):
            assert mine.read_bytes() == reference.read_bytes(), mine
        return how

    assert [job(name) for name in names_eps] == ["pass", "copied", "copied"]
    record = store.read_json(tmp_path / "shared/b/conv3.json")
    assert record["parameters"] == "b" and len(record["distances"]) == 20
    assert job("c", "fewer", bootstrap=10) == "pass"   # another setting: a new pass
    assert job("a", "again", bootstrap=10) == "copied"
    store.copy_output(tmp_path / "mapper/b/conv3.zarr", tmp_path / "b.zarr")
    store.copy_output(tmp_path / "b.zarr", tmp_path / "mapper/b/conv3.zarr")  # written again
    assert job("b", "rewritten", bootstrap=10) == "pass"
    assert job("c", "rewritten", bootstrap=10) == "copied"
    # A copy sets no torch threads (which would load torch, ~1–2 s of a job's start-up).
    monkeypatch.setattr(stability_steps, "set_threads", lambda threads: pytest.fail("torch"))
    assert shared_graph_stability(cloud, cache, _stability_job(tmp_path, "a", "y"),
                                  layer, **{**settings, "bootstrap": 10}) == "copied"


def test_stability_of_a_layer_whose_graphs_are_not_all_built_and_of_a_large_cloud(
        tmp_path, monkeypatch):
    """The pass leaves out a layer graph whose store is not there yet (its job computes
    it later); a cloud above SHARED_PASS_MAX_POINTS, or any without a cache, is done
    alone."""
    cloud = _layer_of_graph_stores(tmp_path, noisy_circle(np.random.default_rng(2), 400),
                                   {"a": 0.25})
    settings = {"bootstrap": 5, "confidence": 0.9}
    job = _stability_job(tmp_path, "a", "out")
    layer = layer_outputs(job, ["a", "later"])
    assert shared_graph_stability(cloud, tmp_path / "pass", job, layer,
                                  **settings) == "pass"
    assert sorted(store.read_json(tmp_path / "pass/index.json")["graphs"]) == ["a"]
    monkeypatch.setattr(stability_steps, "SHARED_PASS_MAX_POINTS", 399)
    job = _stability_job(tmp_path, "a", "large")
    assert shared_graph_stability(cloud, tmp_path / "large-pass", job, layer,
                                  **settings) == "alone"
    assert job.record.exists() and not (tmp_path / "large-pass").exists()
    job = _stability_job(tmp_path, "a", "no-cache")  # mapper.jobs: graph
    monkeypatch.setattr(stability_steps, "SHARED_PASS_MAX_POINTS", 5_000)
    assert shared_graph_stability(cloud, None, job, layer, **settings) == "alone"
    assert job.record.read_bytes() == (tmp_path / "out/a/conv3.json").read_bytes()


def test_a_record_keeps_the_models_seed_apart_from_the_resampling_seed(tmp_path):
    """A graph of model seed 3 bootstrapped with stability.seed 1: its record and its
    summary row say seed 3 and bootstrap_seed 1 (the resampling's seed once overwrote the
    model's)."""
    cloud = _layer_of_graph_stores(tmp_path, noisy_circle(np.random.default_rng(4), 300),
                                   {"a": 0.25})
    job = _stability_job(tmp_path, "a", "out")
    job = StabilityOutput(job.graph, job.features, job.record, job.plot,
                          {**job.meta, "seed": 3})
    write_graph_stability(job, cloud, bootstrap=5, confidence=0.9, seed=1)
    record = store.read_json(job.record)
    assert (record["seed"], record["bootstrap_seed"]) == (3, 1)
    row = stability.summary_table([record], read_distance_tables([])).iloc[0]
    assert (row["seed"], row["bootstrap_seed"]) == (3, 1)
