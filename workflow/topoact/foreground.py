"""Foreground/background samplings (Purvine et al. 2023): segmentation masks, effective
receptive fields (ERFs) of a layer's spatial positions, and the per-position scores.

A position's score counts the foreground (background) pixels in its ERF. The ERF of
position (r, c) is measured, not assumed: the mean over ``erf_images`` images of
``|∂ Σ_k a_k(r, c) / ∂x|`` summed over the input's colour channels (Luo et al. 2016's
gradient definition, exact for every position, so padding and image borders are
handled), normalised to mass 1 and cut to the fewest pixels holding ``erf_mass`` of it.
The score is the number of foreground (background) pixels in that support plus half
the ERF mass on them, which only breaks ties between equal counts (the mass is < 1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from topoact.activations import capture_layer, run_to_layer, to_input
from topoact.sampling import as_spatial

#: Segmentation methods: grabCut for small images, DeepLabV3 for ImageNet-scale ones.
SEGMENTATIONS = ("grabcut", "deeplabv3")

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------- masks


def grabcut_mask(image: np.ndarray, margin: float = 0.1, iterations: int = 5) -> np.ndarray:
    """Foreground mask of one image by OpenCV grabCut, started from a centred rectangle.

    Parameters
    ----------
    image
        uint8 ``(H, W, 3)``.
    margin
        Fraction of the height/width outside the initial rectangle on each side (that
        band is taken as sure background, as grabCut's rectangle mode does).
    iterations
        grabCut iterations.

    Returns
    -------
    numpy.ndarray
        bool ``(H, W)``, True on (probable) foreground.
    """
    import cv2  # here: OpenCV's import serves this function only

    height, width = image.shape[:2]
    dy, dx = max(1, round(margin * height)), max(1, round(margin * width))
    if height <= 2 * dy or width <= 2 * dx:
        raise ValueError(f"grabcut margin {margin} leaves no rectangle in a {height}×{width} image")
    mask = np.zeros((height, width), np.uint8)
    # grabCut seeds its colour models with k-means on OpenCV's global RNG.
    cv2.setRNGSeed(0)
    rect = (dx, dy, width - 2 * dx, height - 2 * dy)
    mask, _, _ = cv2.grabCut(np.ascontiguousarray(image), mask, rect, np.zeros((1, 65)),
                             np.zeros((1, 65)), iterations, cv2.GC_INIT_WITH_RECT)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def deeplab_model(weights_path: str | os.PathLike | None = None) -> nn.Module:
    """torchvision's DeepLabV3-ResNet50 (21 Pascal VOC classes, 0 = background).

    With ``weights_path`` the state_dict saved by
    :func:`topoact.steps.foreground.save_deeplab_weights` is loaded; without, the weights
    are random (for tests).
    """
    from torchvision.models.segmentation import deeplabv3_resnet50

    model = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    if weights_path is not None:
        model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    return model.eval()


@torch.no_grad()
def deeplab_masks(model: nn.Module, batch: np.ndarray, device: torch.device) -> np.ndarray:
    """Foreground masks ``(B, H, W)``: pixels whose most likely VOC class is not background."""
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(_IMAGENET_MEAN, device=device)[:, None, None]
    std = torch.tensor(_IMAGENET_STD, device=device)[:, None, None]
    logits = model.to(device)((x - mean) / std)["out"]
    return (logits.argmax(dim=1) != 0).cpu().numpy()


# --------------------------------------------------------------------------- receptive fields


@dataclass(frozen=True)
class ReceptiveFields:
    """Sparse ERF supports of every spatial position of one layer (row-major positions).

    Position ``q`` covers input pixels ``pixels[indptr[q]:indptr[q+1]]`` (flat ``y·W + x``
    indices) with ERF mass ``weights[...]`` (each full ERF sums to 1).
    """

    indptr: np.ndarray
    pixels: np.ndarray
    weights: np.ndarray
    layer_shape: tuple[int, int]
    image_shape: tuple[int, int]

    @property
    def positions(self) -> int:
        return self.layer_shape[0] * self.layer_shape[1]

    def dense(self, position: int) -> np.ndarray:
        """The (cut) ERF of one position as an ``(H, W)`` array, for plots and tests."""
        out = np.zeros(self.image_shape[0] * self.image_shape[1], np.float32)
        span = slice(self.indptr[position], self.indptr[position + 1])
        out[self.pixels[span]] = self.weights[span]
        return out.reshape(self.image_shape)


def support(erf: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """The fewest pixels holding ``mass`` of a non-negative ERF, and their normalised mass.

    Returns empty arrays for an all-zero ERF (a position no image activates).
    """
    flat = erf.ravel().astype(np.float64)
    total = flat.sum()
    if total <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    order = np.argsort(-flat, kind="stable")
    cumulative = np.cumsum(flat[order]) / total
    keep = order[:int(np.searchsorted(cumulative, mass - 1e-12)) + 1]
    return np.sort(keep), (flat[np.sort(keep)] / total).astype(np.float32)


def _position_chunks(count: int, chunk: int) -> Iterator[np.ndarray]:
    for first in range(0, count, chunk):
        yield np.arange(first, min(first + chunk, count))


def receptive_fields(model: nn.Module, module_path: str, images: np.ndarray,
                     device: torch.device | str = "cpu", mass: float = 0.95,
                     chunk: int = 64, progress: bool = True) -> ReceptiveFields:
    """Measure the ERF of every spatial position of a layer from input gradients.

    Parameters
    ----------
    model
        The network (taking [0, 1] RGB input); used in eval mode, weights untouched.
    module_path
        The layer's module.
    images
        uint8 ``(n, H, W, 3)``: the ERF is the mean gradient magnitude over them.
    device
        Where the passes run.
    mass
        Fraction of each ERF's mass kept in its support.
    chunk
        Positions whose gradients are taken in one batched pass (copies of one image).
    progress
        Show a tqdm bar.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    was_required = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)  # only the input's gradient is needed
    inputs = to_input(images, device)
    height, width = inputs.shape[2:]
    indptr, pixels, weights = [0], [], []
    try:
        with capture_layer(model, module_path) as captured, torch.enable_grad():
            layer_h, layer_w = as_spatial(run_to_layer(model, inputs[:1], captured)).shape[2:]
            count = layer_h * layer_w
            bar = tqdm(total=count, desc="receptive fields", unit="pos", disable=not progress)
            for positions in _position_chunks(count, chunk):
                rows = torch.as_tensor(positions // layer_w, device=device)
                cols = torch.as_tensor(positions % layer_w, device=device)
                erf = torch.zeros(len(positions), height, width, device=device)
                for image in inputs:
                    x = image.expand(len(positions), -1, -1, -1).clone().requires_grad_(True)
                    out = as_spatial(run_to_layer(model, x, captured))
                    out[torch.arange(len(positions), device=device), :, rows, cols].sum().backward()
                    erf += x.grad.abs().sum(dim=1)
                for field in erf.cpu().numpy():
                    kept, mass_kept = support(field, mass)
                    pixels.append(kept)
                    weights.append(mass_kept)
                    indptr.append(indptr[-1] + len(kept))
                bar.update(len(positions))
            bar.close()
    finally:
        for parameter, required in zip(model.parameters(), was_required, strict=True):
            parameter.requires_grad_(required)
    return ReceptiveFields(np.asarray(indptr, np.int64), np.concatenate(pixels).astype(np.int64),
                           np.concatenate(weights).astype(np.float32), (int(layer_h), int(layer_w)),
                           (int(height), int(width)))


# --------------------------------------------------------------------------- scores


class PositionScorer:
    """Scores of every position of a layer for a batch of images, from masks and ERFs.

    Parameters
    ----------
    fields
        The layer's receptive fields.
    masks
        bool ``(N, H, W)`` array (zarr or numpy) indexed like the images store.
    background
        Count background pixels (the complement of the mask) instead of foreground.
    device
        Where the scores are computed (the extraction's device).
    """

    def __init__(self, fields: ReceptiveFields, masks, background: bool,
                 device: torch.device | str = "cpu"):
        if tuple(masks.shape[1:]) != tuple(fields.image_shape):
            raise ValueError(f"masks are {tuple(masks.shape[1:])} pixels but the receptive fields "
                             f"were measured on {tuple(fields.image_shape)} images")
        self.fields, self.masks, self.background = fields, masks, background
        self.device = torch.device(device)
        size = (fields.positions, fields.image_shape[0] * fields.image_shape[1])
        rows = np.repeat(np.arange(fields.positions), np.diff(fields.indptr))
        indices = torch.as_tensor(np.stack([rows, fields.pixels]))
        # count + ½·mass in one product: the mass term (< 1) only orders equal counts.
        values = 1.0 + 0.5 * torch.as_tensor(fields.weights, dtype=torch.float64)
        self.matrix = torch.sparse_coo_tensor(indices, values, size, is_coalesced=True,
                                              check_invariants=True).to(self.device)

    def scores(self, first: int, count: int) -> torch.Tensor:
        """``(count, positions)`` float64 scores of images ``first … first + count − 1``."""
        mask = torch.as_tensor(np.asarray(self.masks[first:first + count]), device=self.device)
        if self.background:
            mask = ~mask
        return torch.sparse.mm(self.matrix, mask.reshape(count, -1).T.double()).T
