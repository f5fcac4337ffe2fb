"""Datasets: loaders that stream labelled RGB images into an images store.

A loader returns an :class:`ImageSource`: the metadata of the dataset and a function
yielding ``(images, labels)`` batches in index order. Nothing requires the whole
dataset in memory, so ImageNet-scale folders fit the same contract as the embedded
digits. Each split is a contiguous index range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

Batch = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ImageSource:
    """A dataset ready to be written to an images store.

    Attributes
    ----------
    count
        Number of images N.
    image_shape
        ``(H, W, 3)`` of every image (uint8 RGB).
    classes
        Class names in label index order.
    splits
        Split name to ``[start, stop)`` index range.
    source
        Human-readable origin (loader and where its data came from).
    batches
        ``batches(batch_size)`` yields ``(uint8 (B, H, W, 3), int (B,))`` in index order.
    """

    count: int
    image_shape: tuple[int, int, int]
    classes: list[str]
    splits: dict[str, tuple[int, int]]
    source: str
    batches: Callable[[int], Iterator[Batch]]


def _in_memory_batches(images: np.ndarray, labels: np.ndarray) -> Callable[[int], Iterator[Batch]]:
    def batches(batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size], labels[start:start + batch_size]

    return batches


def digits_to_rgb(digits: np.ndarray, image_size: int) -> np.ndarray:
    """Turn scikit-learn's 8×8 digits (values 0–16) into RGB uint8 images.

    Parameters
    ----------
    digits
        Array (N, 8, 8) of intensities in [0, 16].
    image_size
        Side of the output images; bilinear upsampling from 8×8.

    Returns
    -------
    np.ndarray
        uint8 array (N, image_size, image_size, 3), grey images in three equal channels.
    """
    import torch
    import torch.nn.functional as F

    grey = torch.from_numpy(np.asarray(digits, dtype=np.float32) / 16.0)[:, None]
    if image_size != grey.shape[-1]:
        grey = F.interpolate(grey, size=(image_size, image_size), mode="bilinear",
                             align_corners=False)
    pixels = (grey.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0].numpy()
    return np.repeat(pixels[..., None], 3, axis=-1)


def load_digits(image_size: int = 32, test_fraction: float = 0.2,
                split_seed: int = 0) -> ImageSource:
    """scikit-learn's digits (1,797 images, 10 classes) as RGB images, the embedded default.

    The held-out split is stratified by class and fixed by ``split_seed``; training
    images come first (indices ``[0, n_train)``), held-out ones after.

    Parameters
    ----------
    image_size
        Side of the RGB images (upsampled from 8×8).
    test_fraction
        Fraction of images held out (the ``test`` split).
    split_seed
        Seed of the stratified split.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    indices = np.arange(len(bunch.target))
    train, test = train_test_split(indices, test_size=test_fraction, random_state=split_seed,
                                   stratify=bunch.target)
    order = np.concatenate([np.sort(train), np.sort(test)])
    images = digits_to_rgb(bunch.images[order], image_size)
    labels = bunch.target[order].astype(np.int16)
    n_train = len(train)
    return ImageSource(
        count=len(order),
        image_shape=images.shape[1:],
        classes=[str(d) for d in range(10)],
        splits={"train": (0, n_train), "test": (n_train, len(order))},
        source="sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
        batches=_in_memory_batches(images, labels),
    )


#: Loader name (the ``loader`` key of a dataset in the config) to loader function.
LOADERS: dict[str, Callable[..., ImageSource]] = {
    "digits": load_digits,
}


def load_dataset(loader: str, **options: Any) -> ImageSource:
    """Build the :class:`ImageSource` of a configured dataset.

    Parameters
    ----------
    loader
        A key of :data:`LOADERS`.
    **options
        The loader's keyword arguments (the dataset's config entry, less ``loader``).

    Raises
    ------
    ValueError
        If the loader is unknown (the message lists the known ones).
    """
    if loader not in LOADERS:
        raise ValueError(f"unknown dataset loader {loader!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[loader](**options)
