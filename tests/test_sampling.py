"""Sampling strategies on hand-made activation tensors with known answers."""

import numpy as np
import pytest
import torch

from topoact import sampling


def test_top_l2_picks_the_position_of_largest_norm():
    acts = torch.zeros(2, 3, 4, 5)
    acts[0, :, 2, 3] = torch.tensor([1.0, 2.0, 2.0])   # norm 3
    acts[0, 0, 1, 1] = 2.5                               # norm 2.5
    acts[1, 1, 0, 4] = -4.0                              # negative values count by norm
    batch, rows, cols = sampling.select_positions(acts, "top-l2", np.array([10, 11]))
    assert batch.tolist() == [0, 1] and rows.tolist() == [2, 0] and cols.tolist() == [3, 4]
    points = sampling.gather_points(acts, batch, rows, cols)
    np.testing.assert_array_equal(points.numpy(), [[1, 2, 2], [0, -4, 0]])


def test_top_l2_ties_take_the_first_position_in_row_major_order():
    acts = torch.ones(1, 2, 3, 3)
    _, rows, cols = sampling.select_positions(acts, "top-l2", np.array([0]))
    assert (rows.item(), cols.item()) == (0, 0)


def test_random_never_picks_a_border_position_and_covers_the_interior():
    image_index = np.arange(5000)
    rows, cols = sampling.random_positions(image_index, 6, 7, seed=3, border=1)
    assert rows.min() == 1 and rows.max() == 4 and cols.min() == 1 and cols.max() == 5
    counts = np.bincount(rows * 7 + cols, minlength=42).reshape(6, 7)[1:5, 1:6]
    assert counts.min() > 5000 / 20 * 0.6  # roughly uniform over the 4×5 interior


def test_random_depends_only_on_seed_and_image_index():
    a = sampling.random_positions(np.arange(100), 14, 14, seed=1)
    b = np.concatenate([sampling.random_positions(np.arange(s, s + 10), 14, 14, seed=1)[0]
                        for s in range(0, 100, 10)])
    np.testing.assert_array_equal(a[0], b)
    c = sampling.random_positions(np.arange(100), 14, 14, seed=2)
    assert not np.array_equal(a[0], c[0])


def test_random_on_maps_without_interior_uses_every_position():
    assert sampling.effective_border(2, 2, 1) == 0
    rows, cols = sampling.random_positions(np.arange(200), 2, 2, seed=0, border=1)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_full_lists_every_position_row_major_and_matches_a_reshape():
    acts = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).reshape(2, 3, 2, 4)
    batch, rows, cols = sampling.select_positions(acts, "full", np.array([0, 1]))
    points = sampling.gather_points(acts, batch, rows, cols)
    expected = acts.permute(0, 2, 3, 1).reshape(-1, 3)
    torch.testing.assert_close(points, expected)
    assert rows[:8].tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and cols[:4].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("name", ["random", "full", "top-l2"])
def test_linear_layers_have_one_position(name):
    acts = torch.randn(4, 6)
    batch, rows, cols = sampling.select_positions(acts, name, np.arange(4))
    assert batch.tolist() == [0, 1, 2, 3] and rows.tolist() == [0] * 4 and cols.tolist() == [0] * 4
    torch.testing.assert_close(sampling.gather_points(acts, batch, rows, cols), acts)


def test_points_per_image_and_unknown_sampling():
    assert sampling.points_per_image("full", 4, 5) == 20
    assert sampling.points_per_image("random", 4, 5) == 1
    with pytest.raises(ValueError, match=r"unknown sampling 'middle'.*random.*full.*top-l2"):
        sampling.check_sampling("middle")
