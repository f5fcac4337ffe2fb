"""The mapper graph's types: its cover, its membership and edges, its nodes' summaries,
and the engine's counters of the work that built it.

They live below :mod:`topoact.store` (which reads and writes them) and
:mod:`topoact.mapper` (which builds them), so neither has to import the other's types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Cover:
    """Closed intervals ``[lower[i], upper[i]]`` over the lens (float64).

    For a lens of dimension d, ``lower`` and ``upper`` are (cubes, d): cube i holds the
    points inside its interval in every coordinate.
    """

    lower: np.ndarray
    upper: np.ndarray
    mode: str

    def members(self, lens: np.ndarray) -> list[np.ndarray]:
        """Indices of the points in each interval (or cube), ascending."""
        values = np.asarray(lens, dtype=np.float64)
        if values.ndim == 2:
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
