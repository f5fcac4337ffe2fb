"""ε estimation: PyNNDescent recall against exact k-NN, the knee of known curves."""

import numpy as np
import pytest
from pynndescent import NNDescent
from sklearn.cluster import DBSCAN
from sklearn.neighbors import NearestNeighbors

from topoact import epsilon
from topoact.epsilon import query_knn_distances
from topoact.validation import check_finite


def test_pynndescent_k_distances_recall_against_exact_neighbours(rng):
    centres = rng.normal(0, 5, size=(20, 32))
    points = (centres[rng.integers(0, 20, 4000)] + rng.normal(0, 1, (4000, 32))).astype(
        np.float32)
    k = 5

    approx = NNDescent(points, n_neighbors=k, random_state=0, n_jobs=1).neighbor_graph[0]
    exact = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points,
                                                                   return_distance=False)
    recall = np.mean([len(set(a) & set(e)) / k for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.95
    ours = epsilon.knn_distances(points, k)
    exact_d = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)[0]
    assert (ours[:, 0] == 0).all()  # the point itself is counted
    assert (ours[:, k - 1] >= exact_d[:, k - 1] * (1 - 1e-5)).all()  # never below the truth
    relative = ours[:, k - 1] / exact_d[:, k - 1] - 1
    assert np.median(relative) < 1e-5 and np.quantile(relative, 0.95) < 0.05
    # The ε read at the knee agrees with the exact curve's within 2 % (the tolerance the
    # scale issue sets for a subsampled ε; the knee of this smooth curve moves a little).
    exact_curve, our_curve = np.sort(exact_d[:, k - 1]), np.sort(ours[:, k - 1])
    exact_eps = exact_curve[epsilon.knee_index(exact_curve)]
    assert abs(our_curve[epsilon.knee_index(our_curve)] / exact_eps - 1) < 0.02


def test_k_distance_makes_core_points_exactly_as_dbscan(rng):
    points = rng.normal(size=(500, 3)).astype(np.float64)
    exact = NearestNeighbors(n_neighbors=5).fit(points).kneighbors(points)[0][:, 4]
    ordered = np.unique(exact)  # mutual neighbours share a k-distance: take distinct values
    middle = len(ordered) // 2
    eps = float(ordered[middle] + ordered[middle + 1]) / 2  # between two: no rounding tie
    core = np.zeros(500, bool)
    core[DBSCAN(eps=eps, min_samples=5).fit(points).core_sample_indices_] = True
    np.testing.assert_array_equal(core, exact <= eps)


def test_knee_of_a_synthetic_curve_with_a_known_elbow():
    x = np.linspace(0, 1, 1001)
    curve = np.where(x < 0.8, 1 + 0.5 * x, 1.4 + 40 * (x - 0.8))  # elbow at x = 0.8
    assert abs(epsilon.knee_index(curve) - 800) <= 2
    exp_curve = np.exp(np.linspace(0, 6, 500))
    knee = epsilon.knee_index(exp_curve)
    assert 300 < knee < 480  # convex rise: the knee lies in the bend, not at an end
    assert epsilon.knee_index(np.ones(10)) == 9  # flat: no knee, last index


def test_estimate_on_clusters_with_noise_lies_between_the_two_scales(rng):
    dense = rng.normal(0, 0.1, size=(2000, 8))
    noise = rng.uniform(-20, 20, size=(100, 8))
    estimate, curve = epsilon.estimate_epsilon(np.concatenate([dense, noise]).astype(np.float32))
    inside = np.quantile(curve, 0.5)
    assert inside <= estimate.epsilon < np.quantile(curve, 0.99)
    assert estimate.k == 5 and not estimate.subsampled and estimate.n_points == 2100
    assert 0.85 < estimate.curve["knee_fraction"] < 0.99


def test_subsampling_is_recorded(rng):
    points = rng.normal(size=(3000, 4)).astype(np.float32)
    estimate, curve = epsilon.estimate_epsilon(points, 5, max_points=1000, seed=3,
                                               large="queries")
    assert estimate.subsampled and estimate.points_used == 1000 and len(curve) == 1000
    assert estimate.n_points == 3000


def test_bad_clouds_are_rejected(rng):
    points = rng.normal(size=(50, 4)).astype(np.float32)
    points[5, 0] = np.inf
    with pytest.raises(ValueError, match=r"1 NaN/inf value\(s\) in 1 of 50 rows"):
        epsilon.estimate_epsilon(points)
    with pytest.raises(ValueError, match="needs more than 5 points"):
        epsilon.knn_distances(np.zeros((5, 2), np.float32), 5)
    assert check_finite(np.zeros((3, 2))) is None


def test_exact_and_approximate_neighbours_give_the_same_epsilon(rng):
    points = (rng.normal(0, 3, (10, 16))[rng.integers(0, 10, 3000)]
              + rng.normal(0, 1, (3000, 16))).astype(np.float32)
    exact, _ = epsilon.estimate_epsilon(points, exact_below=5000)
    approx, _ = epsilon.estimate_epsilon(points, exact_below=0)
    assert exact.neighbours.startswith("exact") and approx.neighbours == "pynndescent"
    assert abs(approx.epsilon / exact.epsilon - 1) < 0.02


def test_query_subsample_has_the_exact_k_distances_of_the_whole_cloud(rng):
    """Each sampled query's k-distances are its exact ones among all points (not among
    the sample), so the sampled curve follows the whole cloud's curve."""
    points = rng.normal(size=(3000, 12)).astype(np.float32)
    queries = np.sort(rng.choice(3000, 400, replace=False))
    got = query_knn_distances(points, queries, 5, query_chunk=128, point_chunk=700)
    expected, _ = NearestNeighbors(n_neighbors=5).fit(points).kneighbors(points[queries])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    full = np.sort(NearestNeighbors(n_neighbors=5).fit(points).kneighbors(points)[0][:, 4])
    for q in (0.1, 0.5, 0.9):  # the sample's curve is a sample of the whole curve
        assert np.quantile(got[:, 4], q) == pytest.approx(np.quantile(full, q), rel=0.03)
    estimate, _ = epsilon.estimate_epsilon(points, 5, max_points=400, large="queries")
    assert estimate.subsampled and estimate.points_used == 400
    assert "queries against every point" in estimate.neighbours


def test_query_knn_pruned_by_the_norm_stays_exact(monkeypatch):
    """With few probe points, each chunk of queries meets only the points within its
    k-distances in norm (far fewer than all), and the distances are still exact,
    duplicates and ties included."""
    rng = np.random.default_rng(7)
    along = rng.uniform(1, 30, 4000)[:, None]  # a noisy ray: norms spread, k-distances small
    points = (along * np.ones(6) / np.sqrt(6) + rng.normal(0, 0.05, (4000, 6))).astype(np.float32)
    points[3900:] = points[:100]  # exact duplicates
    queries = np.sort(rng.choice(4000, 500, replace=False))
    runs = []
    knn_over_run = epsilon._knn_over_run

    def recorded(x, sqnorm, by_norm, q, qn, run, k, point_chunk):
        runs.append(run[1] - run[0])
        return knn_over_run(x, sqnorm, by_norm, q, qn, run, k, point_chunk)

    monkeypatch.setattr(epsilon, "_knn_over_run", recorded)
    got = epsilon.query_knn_distances(points, queries, 5, query_chunk=64, point_chunk=300,
                                      probe=16)
    expected, _ = NearestNeighbors(n_neighbors=5).fit(points).kneighbors(points[queries])
    # float32 tiles of ‖q‖² + ‖x‖² − 2q·x: squared norms up to ~900 round to ~1e-4, so a
    # duplicate's distance can read 0.01 instead of 0 (with or without the pruning)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-2)
    monkeypatch.setattr(epsilon, "_knn_over_run", knn_over_run)
    unpruned = epsilon.query_knn_distances(points, queries, 5, query_chunk=64,
                                           point_chunk=300, probe=4000)
    np.testing.assert_allclose(got, unpruned, rtol=1e-5, atol=1e-5)
    chunks = -(-len(queries) // 64)
    assert sum(runs) < 0.5 * chunks * 4000  # each chunk met fewer than half of the points


def _clustered(rng, n=3000, dimensions=16, centres=12):
    means = rng.normal(0, 4, (centres, dimensions))
    spread = rng.uniform(0.3, 1.5, centres)[:, None]
    which = rng.integers(0, centres, n)
    return (means[which] + rng.normal(size=(n, dimensions)) * spread[which]).astype(np.float32)


def test_cell_k_distances_are_never_below_the_exact_ones_and_mostly_equal(rng):
    points = _clustered(rng)
    exact = NearestNeighbors(n_neighbors=5).fit(points).kneighbors(points)[0]
    got = epsilon.cell_knn_distances(points, 5, probe=4, cells=60)
    assert got.shape == (3000, 5) and (got[:, 0] == 0).all()
    assert (np.diff(got, axis=1) >= 0).all()
    assert (got[:, 4] >= exact[:, 4] * (1 - 1e-4) - 1e-4).all()  # a miss only lengthens
    equal = np.isclose(got[:, 4], exact[:, 4], rtol=1e-4, atol=1e-4)
    assert 0.8 < equal.mean() < 1  # most points, not all: some neighbours lie in cells not probed
    # Probing every cell is the exact search.
    every = epsilon.cell_knn_distances(points, 5, probe=60, cells=60)
    np.testing.assert_allclose(every, exact, rtol=1e-4, atol=1e-4)


def test_cell_k_distances_of_duplicates_and_tiny_cells(rng):
    points = rng.normal(size=(400, 3)).astype(np.float32)
    points[300:] = points[0]  # a hundred copies of one row: its k-distance is 0
    got = epsilon.cell_knn_distances(points, 5, probe=1, cells=200)  # cells of ~2 points
    exact = NearestNeighbors(n_neighbors=5).fit(points).kneighbors(points)[0]
    assert got[300:, 4].max() == 0 and got[0, 4] == 0
    # A point whose probed cells hold fewer than 5 points has no k-distance yet (inf):
    # exact_largest takes it first.
    assert (got[:, 4] >= exact[:, 4] - 1e-4).all()
    fixed, verified = epsilon.exact_largest(points, got[:, 4], 5, first=8)
    assert verified >= np.isinf(got[:, 4]).sum()
    assert fixed.max() == pytest.approx(exact[:, 4].max(), rel=1e-5)
    # Every row with k copies or more: nothing to search, every k-distance is 0.
    np.testing.assert_array_equal(
        epsilon.cell_knn_distances(np.repeat(points[:10], 6, axis=0), 5, cells=3), 0)


def test_exact_largest_makes_the_maximum_exact(rng):
    points = _clustered(rng, n=2000, dimensions=8)
    points[:3] += 40  # three outliers, far from every cluster and from each other
    points[1] += 15
    points[2] -= 25
    exact = NearestNeighbors(n_neighbors=5).fit(points).kneighbors(points)[0][:, 4]
    inflated = exact * rng.uniform(1.0, 1.3, len(exact))  # never below the exact values
    fixed, verified = epsilon.exact_largest(points, inflated, 5, first=4)
    top = np.argsort(-inflated)[:verified]
    np.testing.assert_allclose(fixed[top], exact[top], rtol=1e-4)
    assert fixed.max() == pytest.approx(exact.max(), rel=1e-5)
    # Once the next value is at most the largest exact one, the search stops.
    assert inflated[np.argsort(-inflated)[verified]] <= fixed[top].max()
    assert verified < 100
    untouched = np.setdiff1d(np.arange(len(points)), top)
    np.testing.assert_array_equal(fixed[untouched], inflated[untouched].astype(np.float32))


def test_large_clouds_get_every_points_k_distance_from_cells(rng):
    points = _clustered(rng, n=6000, dimensions=24)
    exact, _ = epsilon.estimate_epsilon(points, 5, max_points=None, exact_below=10_000)
    cells, curve = epsilon.estimate_epsilon(points, 5, max_points=1000)
    assert not cells.subsampled and cells.points_used == 6000 and len(curve) == 6000
    assert cells.neighbours.startswith("k-means cells") and "largest k-distances exact" in (
        cells.neighbours)
    assert abs(cells.epsilon / exact.epsilon - 1) < 0.02
    assert cells.curve["quantiles"]["1"] == pytest.approx(exact.curve["quantiles"]["1"], rel=1e-5)
    again, _ = epsilon.estimate_epsilon(points, 5, max_points=1000)
    assert again.epsilon == cells.epsilon  # seeded
    for max_points in (1000, None):  # a typo fails whether or not the cloud is large
        with pytest.raises(ValueError, match="large='tree': expected 'cells' or 'queries'"):
            epsilon.estimate_epsilon(points, 5, max_points=max_points, large="tree")
