"""The embedded dataset: scikit-learn's digits as RGB images with a fixed split."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from topoact import data


def test_digits_are_rgb_uint8_with_a_stratified_contiguous_split():
    source = data.load_digits(image_size=32, test_fraction=0.2, split_seed=0)
    images, labels = map(np.concatenate, zip(*source.batches(400), strict=True))
    assert images.shape == (1797, 32, 32, 3) and images.dtype == np.uint8
    assert source.count == 1797 and source.classes == [str(d) for d in range(10)]
    assert source.splits == {"train": (0, 1437), "test": (1437, 1797)}
    # Grey: three equal channels; digits occupy the full intensity range.
    assert np.array_equal(images[..., 0], images[..., 2]) and images.max() == 255
    # Stratified: every class is held out in proportion.
    test_counts = np.bincount(labels[1437:], minlength=10)
    assert test_counts.min() >= 35 and test_counts.max() <= 37


def test_upsampling_keeps_the_digit():
    original = load_digits().images[:50] / 16.0
    rgb = data.digits_to_rgb(load_digits().images[:50], 32)[..., 0] / 255.0
    pooled = rgb.reshape(50, 8, 4, 8, 4).mean(axis=(2, 4))  # back to 8×8
    correlation = np.corrcoef(pooled.ravel(), original.ravel())[0, 1]
    assert correlation > 0.95


def test_split_is_fixed_by_its_seed():
    a = data.load_digits(split_seed=0)
    b = data.load_digits(split_seed=0)
    c = data.load_digits(split_seed=1)
    la, lb, lc = (np.concatenate([y for _, y in s.batches(2000)]) for s in (a, b, c))
    assert np.array_equal(la, lb) and not np.array_equal(la, lc)


def test_unknown_loader_lists_the_known_ones():
    known = r"\['cifar10', 'digits', 'imagefolder', 'imagenette'\]"
    with pytest.raises(ValueError, match=rf"unknown dataset loader 'mnist'.*{known}"):
        data.load_dataset("mnist")
