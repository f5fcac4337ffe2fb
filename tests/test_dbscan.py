"""The bounded-memory DBSCAN against scikit-learn's, label for label."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN

from topoact.dbscan import dbscan


def _cloud(kind: int, rng: np.random.Generator):
    n, d = int(rng.integers(5, 400)), int(rng.integers(1, 24))
    if kind == 0:  # small integers: many exact duplicates and distances of exactly ε
        return rng.integers(0, 4, size=(n, d)).astype(float), float(rng.integers(1, 3))
    if kind == 1:  # blobs of different spread
        centres = rng.normal(0, 5, (4, d))
        points = centres[rng.integers(0, 4, n)] + rng.normal(0, rng.uniform(0.1, 1), (n, d))
        return points, float(rng.uniform(0.3, 2.0))
    dense = rng.normal(0, 0.2, (n // 2, d))  # a dense core in sparse noise, duplicated rows
    points = np.concatenate([dense, rng.uniform(-5, 5, (n - n // 2, d))])
    return np.concatenate([points, points[:10]]), float(rng.uniform(0.1, 1.0))


@pytest.mark.parametrize("trial", range(45))
def test_labels_equal_scikit_learn(trial):
    rng = np.random.default_rng(trial)
    points, eps = _cloud(trial % 3, rng)
    min_samples = int(rng.integers(1, 8))
    expected = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(points)
    # Small chunks exercise the merging of components and borders across chunks.
    got = dbscan(points, eps, min_samples, count_chunk=int(rng.integers(3, 64)),
                 max_chunk_entries=int(rng.integers(1, 500)))
    np.testing.assert_array_equal(got, expected)


def test_border_point_goes_to_the_cluster_with_the_lowest_core_index():
    # Two clusters whose cores L=(0,0) and R=(2,0) are both within ε=1 of B=(1,0); B has
    # only 3 neighbours (B, L, R) < min_samples=4, so it is a border point of both.
    left = [[0, 0], [-0.5, 0.5], [-0.5, -0.5], [-0.9, 0]]
    right = [[2, 0], [2.5, 0.5], [2.5, -0.5], [2.9, 0]]
    points = np.array(right + left + [[1, 0]], dtype=float)  # the right cluster comes first
    labels = dbscan(points, 1.0, 4)
    np.testing.assert_array_equal(labels, DBSCAN(eps=1.0, min_samples=4).fit_predict(points))
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0]
    flipped = np.array(left + right + [[1, 0]], dtype=float)
    assert dbscan(flipped, 1.0, 4)[-1] == 0  # now the left cluster is reached first


def test_empty_and_all_noise():
    assert dbscan(np.zeros((0, 3)), 1.0, 5).tolist() == []
    assert (dbscan(np.arange(10.0)[:, None] * 10, 1.0, 2) == -1).all()
