"""The mapper graph's types: its cover, its membership and edges, its nodes' summaries,
and the engine's counters of the work that built it.

They live below :mod:`topoact.store` (which reads and writes them) and
:mod:`topoact.mapper` (which builds them), so neither has to import the other's types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy import sparse


class BuildCancelled(RuntimeError):
    """A build stopped by its caller (a client that left, a budget run out) between two
    intervals of the engine's pass."""


#: Most cubes a cover of a d-dimensional lens may have (n^d for n intervals).
MAX_CUBES = 1_000_000


@dataclass(frozen=True)
class Cover:
    """Closed intervals ``[lower[i], upper[i]]`` over the lens (float64).

    For a lens of dimension d, ``lower`` and ``upper`` are (cubes, d): cube i holds the
    points inside its interval in every coordinate. ``shape`` is the number of intervals
    of each coordinate when the cubes are their product (first coordinate slowest), as
    :func:`topoact.mapper.make_cover` makes them: each point's cubes are then found from
    its coordinates, not by testing every cube.
    """

    lower: np.ndarray
    upper: np.ndarray
    mode: str
    shape: tuple[int, ...] = ()

    def members(self, lens: np.ndarray) -> list[np.ndarray]:
        """Indices of the points in each interval (or cube), ascending."""
        values = np.asarray(lens, dtype=np.float64)
        if values.ndim == 2:
            if self._is_product(values.shape[1]):
                return self._product_members(values)
            return [np.flatnonzero(((values >= low) & (values <= high)).all(axis=1))
                    for low, high in zip(self.lower, self.upper, strict=True)]
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        result = []
        for low, high in zip(self.lower, self.upper, strict=True):
            first = np.searchsorted(ordered, low, side="left")
            last = np.searchsorted(ordered, high, side="right")
            result.append(np.sort(order[first:last]))
        return result

    def coordinate_intervals(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Coordinate j's intervals (lower, upper) of a product cover."""
        d = len(self.shape)
        at = tuple(slice(None) if k == j else 0 for k in range(d)) + (j,)
        return (self.lower.reshape(*self.shape, d)[at],
                self.upper.reshape(*self.shape, d)[at])

    def _is_product(self, d: int) -> bool:
        if len(self.shape) != d or int(np.prod(self.shape)) != len(self.lower):
            return False
        # Point → intervals by binary search needs both ends in order along each axis.
        return all((np.diff(lo) >= 0).all() and (np.diff(hi) >= 0).all()
                   for lo, hi in map(self.coordinate_intervals, range(d)))

    def sizes(self, lens: np.ndarray) -> np.ndarray:
        """How many points each interval (or cube) holds, without listing them."""
        values = np.asarray(lens, dtype=np.float64)
        if values.ndim == 2 and self._is_product(values.shape[1]):
            return np.bincount(self._product_pairs(values)[1], minlength=len(self.lower))
        if values.ndim == 2:
            return np.array([len(m) for m in self.members(values)], dtype=np.int64)
        ordered = np.sort(values)
        return (np.searchsorted(ordered, self.upper, side="right")
                - np.searchsorted(ordered, self.lower, side="left"))

    def _product_pairs(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, cube) of a product cover: each point's interval range per
        coordinate (two binary searches), expanded to its cubes."""
        point = np.arange(len(values))
        cube = np.zeros(len(values), dtype=np.int64)
        for j, size in enumerate(self.shape):
            lower, upper = self.coordinate_intervals(j)
            first = np.searchsorted(upper, values[point, j], side="left")
            last = np.searchsorted(lower, values[point, j], side="right") - 1
            width = np.maximum(last - first + 1, 0)
            ends = np.cumsum(width)
            offset = np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - width, width)
            point = np.repeat(point, width)
            cube = np.repeat(cube * size + first, width) + offset
        return point, cube

    def _product_members(self, values: np.ndarray) -> list[np.ndarray]:
        """Members of a product cover's cubes, grouped from :meth:`_product_pairs`:
        O(N log n + pairs + cubes) instead of O(cubes × N)."""
        point, cube = self._product_pairs(values)
        order = np.lexsort((point, cube))
        counts = np.bincount(cube, minlength=len(self.lower))
        return np.split(point[order], np.cumsum(counts)[:-1])


@dataclass
class MapperGraph:
    """A mapper graph: node membership (CSR), the interval of each node, and edges.

    Attributes
    ----------
    indptr, indices
        Node i holds points ``indices[indptr[i]:indptr[i+1]]`` (ascending).
    interval
        Cover interval (or cube) of each node.
    cover
        The cover used.
    lens
        The lens value of every point, (N,) or (N, d) (the ℓ2 lens: the points' dtype).
    edges
        (E, 2) node pairs (source < target) whose member sets intersect.
    intersection, jaccard
        |A ∩ B| and |A ∩ B| / |A ∪ B| of each edge.
    params
        Intervals, overlap, ε, min_samples, cover mode, lens name.
    """

    indptr: np.ndarray
    indices: np.ndarray
    interval: np.ndarray
    cover: Cover
    lens: np.ndarray
    edges: np.ndarray
    intersection: np.ndarray
    jaccard: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_points(self) -> int:
        return len(self.lens)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.indptr)

    def members(self, node: int) -> np.ndarray:
        """The point indices of one node."""
        return self.indices[self.indptr[node]:self.indptr[node + 1]]

    def membership_matrix(self) -> sparse.csr_matrix:
        """Sparse (nodes × points) 0/1 matrix of membership."""
        data = np.ones(len(self.indices), dtype=np.int32)
        return sparse.csr_matrix((data, self.indices, self.indptr),
                                 shape=(self.n_nodes, self.n_points))

    def covered(self) -> np.ndarray:
        """Boolean mask of the points that belong to at least one node."""
        mask = np.zeros(self.n_points, dtype=bool)
        mask[self.indices] = True
        return mask


@dataclass
class NodeStats:
    """Per-node summaries, and the graph's layout (``position``, (n, 2) in [0, 1]²; None
    for a store written before layouts were stored)."""

    size: np.ndarray
    mean_lens: np.ndarray
    class_counts: np.ndarray
    mean_activation: np.ndarray
    position: np.ndarray | None = None


@dataclass
class EngineStats:
    """What the engine did (for the job log and the benchmark)."""

    pairs_in_windows: int = 0
    pairs_computed: int = 0
    pairs_rechecked: int = 0
    tiles_skipped: int = 0
    intervals_without_edge_list: int = 0

    def merge(self, other: EngineStats) -> None:
        """Add another run's counters (each worker thread counts on its own)."""
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs a pass: where (``device``: cpu, cuda or auto), in what tiles
    (``tile``: default from a 1 GB budget), how many intervals at once (``workers``),
    what it reports (``progress``, ``stats``: an :class:`EngineStats` to add its counters
    to) and when it stops (``cancel``: asked before each interval; True stops the build
    with :class:`BuildCancelled`). None of these changes a graph, so the functions that
    build graphs take them as one keyword-only ``engine`` argument."""

    device: Any = "cpu"
    tile: int | None = None
    progress: bool = False
    stats: EngineStats | None = None
    workers: int | None = None
    cancel: Callable[[], bool] | None = None

    def keywords(self) -> dict[str, Any]:
        """These options as :func:`topoact.engine.cluster_grid`'s keywords."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: The engine's defaults: on the CPU, tiles from the memory budget, no progress bar.
DEFAULT_ENGINE = EngineOptions()
