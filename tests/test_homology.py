"""Persistent homology and sliced-Wasserstein distances: known answers."""

import numpy as np
import pytest
from persim import sliced_wasserstein as persim_sw

from topoact import homology
from topoact.steps.homology import load_diagrams, save_diagrams


def noisy_circle(n=200, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle)], 1) + rng.normal(0, noise, (n, 2))


def test_noisy_circle_has_one_dominant_h1_class():
    h0, h1 = homology.persistence(noisy_circle(), maxdim=1)
    lifetimes = np.sort(h1[:, 1] - h1[:, 0])[::-1]
    assert lifetimes[0] > 1.0  # the circle of radius 1 lives from ~0.1 to ~1.7
    assert lifetimes[0] > 5 * lifetimes[1]  # and nothing else comes close
    assert np.isinf(h0[:, 1]).sum() == 1  # one component never dies


def test_identical_clouds_are_at_distance_zero_and_distance_is_symmetric():
    a = homology.persistence(noisy_circle(seed=1))
    b = homology.persistence(noisy_circle(seed=2, noise=0.2))
    for dim in (0, 1):
        assert homology.sliced_wasserstein(a[dim], a[dim]) == 0.0
        ab = homology.sliced_wasserstein(a[dim], b[dim])
        assert ab > 0 and ab == pytest.approx(homology.sliced_wasserstein(b[dim], a[dim]))


def test_distances_match_persim_on_the_saved_diagrams(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 5))
    image = np.arange(60)
    batches = homology.draw_batches(image, 40, 3, seed=4)
    layers = []
    for name, scale in (("a", 1.0), ("b", 2.0)):
        diagrams = homology.layer_diagrams(points * scale, image, batches, name)
        save_diagrams(tmp_path / f"{name}.npz", diagrams)
        layers.append(load_diagrams(tmp_path / f"{name}.npz"))
    assert layers[0].layer == "a" and np.array_equal(layers[0].batches, batches)
    per_batch = homology.distance_matrix(layers, layers, dim=1)
    for b in range(3):
        d_a, d_b = layers[0].diagrams[b][1], layers[1].diagrams[b][1]
        assert per_batch[b, 0, 1] == pytest.approx(persim_sw(d_a, d_b, M=50))
        assert per_batch[b, 0, 0] == 0 and per_batch[b, 1, 0] == pytest.approx(per_batch[b, 0, 1])
    h0 = homology.distance_matrix(layers, layers, dim=0)[0, 0, 1]
    finite = [homology.finite(layers[k].diagrams[0][0]) for k in (0, 1)]
    assert h0 == pytest.approx(persim_sw(finite[0], finite[1], M=50))


@pytest.mark.parametrize("sizes", [(1, 1), (3, 17), (40, 5), (300, 280)])
@pytest.mark.parametrize("n_directions", [1, 7, 50])
def test_vectorised_sliced_wasserstein_equals_persims(sizes, n_directions):
    rng = np.random.default_rng(sum(sizes) + n_directions)
    a, b = (np.sort(rng.gamma(2.0, 1.0, size=(n, 2)), axis=1) for n in sizes)
    expected = persim_sw(a, b, M=n_directions)
    assert abs(homology.sliced_wasserstein(a, b, n_directions) - expected) <= 1e-9 * expected
    # an empty side is the diagonal, as persim sees a single point at the origin
    expected_empty = persim_sw(a, np.zeros((1, 2)), M=n_directions)
    assert homology.sliced_wasserstein(a, np.zeros((0, 2)), n_directions) == pytest.approx(
        expected_empty, rel=1e-9)


def test_batches_are_reproducible_and_drawn_from_the_given_images():
    images = np.arange(100, 460)
    a = homology.draw_batches(images, 300, 10, seed=0)
    assert a.shape == (10, 300) and np.isin(a, images).all()
    assert all(len(np.unique(batch)) == 300 for batch in a)
    np.testing.assert_array_equal(a, homology.draw_batches(images, 300, 10, seed=0))
    assert homology.draw_batches(images, 1000, 2, seed=0).shape == (2, 360)  # capped


def test_removing_top_components_deletes_the_largest_variance_directions():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 3)) * [10.0, 3.0, 0.5]
    centred = points - points.mean(0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = homology.remove_top_components(points, 1)
    assert np.var(reduced @ vt[0]) < 1e-20  # nothing left along the top component
    np.testing.assert_allclose(np.var(reduced @ vt[1:].T, axis=0),
                               np.var(points @ vt[1:].T, axis=0))  # the rest untouched
    total = np.var(reduced, axis=0).sum() * len(points)
    assert total == pytest.approx((singular[1:] ** 2).sum())
    np.testing.assert_array_equal(homology.remove_top_components(points, 0), points)
    assert homology.removal_steps(64, 128) == [1, 2, 4, 8, 16, 32, 64]
    assert homology.removal_steps(64, 10) == [1, 2, 4, 8]


def test_row_correlations():
    within = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float)
    rho = homology.row_correlations(within, within * 2 + 1)
    np.testing.assert_allclose(rho, 1.0)
    anti = homology.row_correlations(within, -within)
    np.testing.assert_allclose(anti, -1.0)


def test_batches_must_be_the_same_images():
    a = homology.LayerDiagrams("a", [[np.zeros((1, 2))]], np.array([[0, 1, 2]]))
    b = homology.LayerDiagrams("b", [[np.zeros((1, 2))]], np.array([[0, 1, 3]]))
    with pytest.raises(ValueError, match="not the same images"):
        homology.distance_matrix([a], [b], 0)
