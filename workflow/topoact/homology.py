"""Persistent homology of top-ℓ2 activation clouds and sliced-Wasserstein distances
between layers (Purvine et al. 2023, "Experiments with PH").

For each layer, the top-ℓ2 activation vector of N held-out images forms an N × C point
cloud; B batches of N images are drawn once from the seed of the homology stage (the same
images for every layer and every model seed, so distances compare like with like).
Vietoris–Rips persistence diagrams come from ripser; the distance between two layers is
the sliced Wasserstein distance (persim's, vectorised) between their diagrams of one
dimension, averaged over batches (with the coefficient of variation over batches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm


def draw_batches(image_index: np.ndarray, n_images: int, n_batches: int, seed: int
                 ) -> np.ndarray:
    """B batches of N image indices, each drawn without replacement from ``image_index``.

    Returns
    -------
    np.ndarray
        (B, N) int array; N is capped at the number of images available.
    """
    rng = np.random.default_rng(seed)
    n = min(n_images, len(image_index))
    return np.stack([np.sort(rng.choice(image_index, size=n, replace=False))
                     for _ in range(n_batches)])


def persistence(points: np.ndarray, maxdim: int = 1) -> list[np.ndarray]:
    """Vietoris–Rips persistence diagrams (ripser) of a point cloud, dimensions 0..maxdim."""
    from ripser import ripser  # here: it loads scikit-learn, which only this needs

    return [np.asarray(d, dtype=np.float64) for d in
            ripser(np.asarray(points, dtype=np.float64), maxdim=maxdim)["dgms"]]


def finite(diagram: np.ndarray) -> np.ndarray:
    """The points of a diagram with finite death.

    The one H0 class that never dies is in every cloud's diagram, so it carries no
    information and is dropped before distances.
    """
    diagram = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    return diagram[np.isfinite(diagram[:, 1])]


def _projection_directions(n_directions: int) -> np.ndarray:
    """persim's M directions θ_i = (0.5 + i/M)·π, in its float32, as a (2, M) float64 array.

    θ is accumulated step by step as persim does, so the directions are exactly persim's.
    """
    thetas, theta, step = [], 0.5, 1.0 / n_directions
    for _ in range(n_directions):
        thetas.append(theta)
        theta += step
    angles = np.asarray(thetas) * np.pi
    return np.stack([np.cos(angles), np.sin(angles)]).astype(np.float32).astype(np.float64)


# persim projects each point onto the diagonal with this float32 unit vector.
_DIAGONAL = np.array([np.cos(0.25 * np.pi), np.sin(0.25 * np.pi)],
                     dtype=np.float32).astype(np.float64)


def diagram_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Two diagrams as the sliced Wasserstein distance compares them: finite points only,
    an empty side as one point at the origin (on the diagonal; persim needs a point on
    each side). None when both are empty (distance 0)."""
    a, b = finite(a), finite(b)
    if len(a) == 0 and len(b) == 0:
        return None
    return (a if len(a) else np.zeros((1, 2))), (b if len(b) else np.zeros((1, 2)))


def _diagonal_projections(diagram: np.ndarray) -> np.ndarray:
    """Each point's projection onto the diagonal, as persim computes it."""
    return np.repeat(np.sqrt((diagram @ _DIAGONAL) ** 2 / 2.0)[:, None], 2, axis=1)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_directions: int = 50) -> float:
    """Sliced Wasserstein distance between two diagrams (finite points only).

    The same approximation as persim's ``sliced_wasserstein`` (Carrière, Cuturi & Oudot
    2017: ``n_directions`` directions over a half circle; each diagram is completed with
    the other's diagonal projections), computed for all directions at once: equal to
    persim's within 1e-9 relative (tested) and faster than persim's and gudhi's
    (``bench/sliced_wasserstein.py``).
    """
    pair = diagram_pair(a, b)
    if pair is None:
        return 0.0
    a, b = pair
    directions = _projection_directions(n_directions)
    projected_a = np.sort(np.concatenate([a, _diagonal_projections(b)]) @ directions, axis=0)
    projected_b = np.sort(np.concatenate([b, _diagonal_projections(a)]) @ directions, axis=0)
    return float(np.abs(projected_a - projected_b).sum(axis=0).sum() / n_directions)


@dataclass
class LayerDiagrams:
    """Diagrams of one layer: ``diagrams[batch][dim]`` and the batches' image indices."""

    layer: str
    diagrams: list[list[np.ndarray]]
    batches: np.ndarray

    @property
    def maxdim(self) -> int:
        return len(self.diagrams[0]) - 1


def layer_diagrams(points: np.ndarray, image: np.ndarray, batches: np.ndarray, layer: str,
                   maxdim: int = 1, progress: bool = False) -> LayerDiagrams:
    """Diagrams of each batch of a top-ℓ2 cloud (one point per image).

    Parameters
    ----------
    points, image
        The cloud and the image index of each point.
    batches
        (B, N) image indices (from :func:`draw_batches`).
    """
    row_of = {int(i): r for r, i in enumerate(image)}
    missing = [int(i) for i in np.unique(batches) if int(i) not in row_of]
    if missing:
        raise ValueError(f"layer {layer}: images {missing[:5]} of the batches are not in the "
                         f"cloud ({len(missing)} missing)")
    diagrams = []
    for batch in tqdm(batches, desc=f"ripser {layer}", unit="batch", disable=not progress):
        rows = np.fromiter((row_of[int(i)] for i in batch), dtype=np.int64, count=len(batch))
        diagrams.append(persistence(points[rows], maxdim))
    return LayerDiagrams(layer, diagrams, np.asarray(batches))


def distance_matrix(rows: list[LayerDiagrams], cols: list[LayerDiagrams], dim: int,
                    n_directions: int = 50) -> np.ndarray:
    """SW distances between every (row layer, column layer), per batch: (B, R, C).

    Row and column layers must share their batches (the same images), so each batch
    compares the two layers on the same inputs.
    """
    n_batches = len(rows[0].diagrams)
    for item in (*rows, *cols):
        if not np.array_equal(item.batches, rows[0].batches):
            raise ValueError(f"layer {item.layer}: its batches are not the same images as "
                             f"layer {rows[0].layer}'s")
    out = np.zeros((n_batches, len(rows), len(cols)))
    symmetric = rows is cols  # a model against itself: compute each pair once
    for b in range(n_batches):
        for i, a in enumerate(rows):
            for j, c in enumerate(cols):
                if symmetric and j <= i:
                    continue
                out[b, i, j] = sliced_wasserstein(a.diagrams[b][dim], c.diagrams[b][dim],
                                                  n_directions)
        if symmetric:
            out[b] += out[b].T
    return out


def mean_and_cv(per_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over batches and coefficient of variation (std/mean; 0 where the mean is 0)."""
    mean = per_batch.mean(axis=0)
    std = per_batch.std(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(mean > 0, std / mean, 0.0)
    return mean, cv


def row_correlations(within: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Pearson ρ between each layer's within-model and cross-model distance rows."""
    rho = np.full(len(within), np.nan)
    for i in range(len(within)):
        a, b = within[i], cross[i]
        if a.std() > 0 and b.std() > 0:
            rho[i] = float(np.corrcoef(a, b)[0, 1])
    return rho


def remove_top_components(points: np.ndarray, k: int) -> np.ndarray:
    """The cloud with its top-k principal components deleted (projected out)."""
    x = np.asarray(points, dtype=np.float64)
    if k == 0:
        return x
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    top = vt[:k]
    return x - centred @ top.T @ top


def removal_steps(max_components: int, channels: int) -> list[int]:
    """k = 1, 2, 4, … up to ``max_components`` (and below the dimension)."""
    steps, k = [], 1
    while k <= min(max_components, channels - 1):
        steps.append(k)
        k *= 2
    return steps


# --------------------------------------------------------------------------- stages
