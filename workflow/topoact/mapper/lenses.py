"""Lenses of a point cloud: ‖x‖₂ (TopoAct's, for activation clouds), the first one or
two principal components and the codensity (Gabrielsson–Carlsson's, for the weight
space). A lens of dimension d is covered by the product of d interval covers."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from topoact.names import LENSES
from topoact.validation import check_finite


def l2_lens(points: np.ndarray) -> np.ndarray:
    """The lens f(x) = ‖x‖₂, in the dtype of ``points``."""
    points = np.asarray(points)
    return np.sqrt(np.einsum("ij,ij->i", points, points))


def pca_lens(points: np.ndarray, components: int) -> np.ndarray:
    """Projection on the first ``components`` principal directions (float64).

    Each direction's sign is fixed so that its largest loading is positive, so the lens
    does not flip between runs or platforms.

    Returns
    -------
    numpy.ndarray
        (N,) for one component, (N, components) otherwise.
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"a PCA lens needs a 2-D cloud of at least 2 points, got {x.shape}")
    if components > x.shape[1]:
        raise ValueError(f"a {components}-component PCA lens needs at least {components} "
                         f"dimensions, got {x.shape[1]}")
    centred = x - x.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    directions = directions[:components]
    largest = np.argmax(np.abs(directions), axis=1)
    directions *= np.sign(directions[np.arange(components), largest])[:, None]
    projection = centred @ directions.T
    return projection[:, 0] if components == 1 else projection


def codensity(points: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest neighbour, the point itself not counted.

    The codensity δ_k of Carlsson et al. 2008: small where the cloud is dense. Exact
    (scipy's k-d tree, fast in the few dimensions of k×k filters), in float64; a
    duplicate of a point counts as a neighbour at 0.
    """
    x = np.asarray(points, dtype=np.float64)
    if int(k) != k or k < 1:
        raise ValueError(f"the density k must be a positive integer, got {k!r}")
    if len(x) <= k:
        raise ValueError(f"the codensity with k = {k} needs more than {k} points, "
                         f"got {len(x)}")
    distances, _ = cKDTree(x).query(x, k=int(k) + 1)
    return distances[:, k]


def make_lens(points: np.ndarray, name: str = "l2", k: int = 15) -> np.ndarray:
    """The lens ``name``: ``l2`` (‖x‖₂, the points' dtype), ``pca1``/``pca2`` (principal
    components), or ``codensity`` (distance to the k-th neighbour)."""
    if name == "l2":
        return l2_lens(points)
    if name in ("pca1", "pca2"):
        return pca_lens(points, int(name[-1]))
    if name == "codensity":
        return codensity(points, k)
    raise ValueError(f"unknown lens {name!r}; choose one of {list(LENSES)}")


def check_lens(lens: np.ndarray, n_points: int) -> np.ndarray:
    """A lens of one value (N,) or d values (N, d) per point, finite, as an array."""
    lens = np.asarray(lens)
    if lens.ndim not in (1, 2) or len(lens) != n_points:
        raise ValueError(f"the lens must be (N,) or (N, d) with N = {n_points} points, "
                         f"got shape {lens.shape}")
    check_finite(lens, "lens values")
    return lens
