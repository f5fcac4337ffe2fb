"""The topology and similarity of profiles: the profile graph made a metric space, its
persistence diagrams and images, Jaccard similarity of profiles, and the workflow's
steps that compute them from a profiles store.

Torch-free: these steps read stored profiles only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from persim import PersistenceImager
from ripser import ripser
from scipy import sparse
from scipy.sparse.csgraph import shortest_path

from topoact.profiles.tables import Profile, ProfileError

WEIGHTINGS = ("inverted", "original")


# --------------------------------------------------------------------------- graph and metric


def profile_graph(profile: Profile, weighting: str = "inverted"
                  ) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The profile graph: vertices (layer, neuron) — the synapses' ends — and its
    undirected adjacency, each synapse weighted by its influence (``original``) or by
    1 / influence (``inverted``, DDP's tutorial); where two synapses join the same pair
    the shorter edge counts.

    Returns
    -------
    vertices, adjacency
        Vertex keys (layer << 40 | neuron), sorted, and a symmetric sparse matrix.
    """
    if weighting not in WEIGHTINGS:
        raise ProfileError(f"unknown weighting {weighting!r}; choose one of {list(WEIGHTINGS)}")
    pairs = profile.synapse_keys()
    weight = np.asarray(profile.synapses["weight"], dtype=np.float64)
    length = weight if weighting == "original" else 1.0 / weight
    usable = np.isfinite(length) & (length > 0)  # DDP clips at 0; a 0 edge is no edge
    pairs, length = pairs[usable], length[usable]
    vertices, index = np.unique(pairs, return_inverse=True)
    index = index.reshape(pairs.shape)
    n = len(vertices)
    rows = np.concatenate([index[:, 0], index[:, 1]])
    cols = np.concatenate([index[:, 1], index[:, 0]])
    both = np.concatenate([length, length])
    order = np.lexsort((both, cols, rows))  # first of each (row, col) is the shortest
    rows, cols, both = rows[order], cols[order], both[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    adjacency = sparse.csr_matrix((both[first], (rows[first], cols[first])), shape=(n, n))
    return vertices, adjacency


def graph_distances(adjacency: sparse.spmatrix, kernel: bool = True, cap_factor: float = 2.0
                    ) -> np.ndarray:
    """Shortest-path distances on the undirected profile graph, made a metric.

    DDP leaves the graph directed and unreachable pairs infinite, and ripser then reads
    only the upper triangle, which depends on the vertex order. Here the graph is
    undirected; with ``kernel`` the finite distances go through the Gaussian kernel
    g(x) = 1 − exp(−x / (2σ)), σ the standard deviation of the finite entries (the zero
    diagonal included, as in DDP's tutorial); disconnected pairs are then set to
    ``cap_factor`` × the largest finite value (1 if there is none), so that every bar
    within a component ends before components join.
    """
    distances = shortest_path(adjacency, method="D", directed=False)
    finite_mask = np.isfinite(distances)
    if kernel and finite_mask.any():
        sigma = float(np.std(distances[finite_mask]))
        if sigma > 0:
            distances[finite_mask] = 1.0 - np.exp(-distances[finite_mask] / (2.0 * sigma))
    largest = float(distances[finite_mask].max()) if finite_mask.any() else 0.0
    distances[~finite_mask] = cap_factor * largest if largest > 0 else 1.0
    return distances


def graph_diagrams(distances: np.ndarray, maxdim: int = 1) -> list[np.ndarray]:
    """ripser's diagrams H0..H``maxdim`` of a distance matrix (H0's last bar infinite)."""
    if len(distances) == 0:
        return [np.zeros((0, 2)) for _ in range(maxdim + 1)]
    return ripser(distances, distance_matrix=True, maxdim=maxdim)["dgms"]


@dataclass(frozen=True)
class ImageGrid:
    """The persistence-image grid of a run (fixed by the config, so images compare)."""

    birth_range: tuple[float, float] = (0.0, 1.0)
    pers_range: tuple[float, float] = (0.0, 1.0)
    pixel_size: float = 0.05
    spread: float = 0.05  # the Gaussian's standard deviation

    def imager(self) -> PersistenceImager:
        variance = self.spread ** 2
        return PersistenceImager(birth_range=tuple(self.birth_range),
                                 pers_range=tuple(self.pers_range), pixel_size=self.pixel_size,
                                 kernel_params={"sigma": [[variance, 0.0], [0.0, variance]]})

    @property
    def shape(self) -> tuple[int, int]:
        return self.imager().resolution


def persistence_image(diagram: np.ndarray, grid: ImageGrid) -> tuple[np.ndarray, int]:
    """The persistence image of a diagram's finite bars (persistence-weighted, persim)
    on the run's grid, and how many bars fall outside the grid."""
    bars = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    bars = bars[np.isfinite(bars[:, 1])]
    imager = grid.imager()
    if len(bars) == 0:
        return np.zeros(imager.resolution), 0
    persistence = bars[:, 1] - bars[:, 0]
    outside = int(np.sum((bars[:, 0] < grid.birth_range[0]) | (bars[:, 0] > grid.birth_range[1])
                         | (persistence > grid.pers_range[1])))
    return imager.transform(bars, skew=True), outside


# --------------------------------------------------------------------------- similarity


def jaccard(a: Profile, b: Profile, of: str = "neurons") -> float:
    """|A ∩ B| / |A ∪ B| of two profiles' neuron (or synapse) sets (DDP's ``jaccard``:
    nnz(A∘B) / nnz(A + B)); 0 when both are empty."""
    if of == "neurons":
        keys_a, keys_b = a.neuron_keys(), b.neuron_keys()
    elif of == "synapses":
        keys_a, keys_b = _pair_keys(a), _pair_keys(b)
    else:
        raise ProfileError(f"jaccard of {of!r}: choose neurons or synapses")
    union = len(np.union1d(keys_a, keys_b))
    return len(np.intersect1d(keys_a, keys_b)) / union if union else 0.0


def _pair_keys(profile: Profile) -> np.ndarray:
    """One string-free key per synapse (its two vertex keys as a structured pair)."""
    pairs = np.ascontiguousarray(profile.synapse_keys())
    return pairs.view([("source", np.int64), ("target", np.int64)]).reshape(-1)


def jaccard_matrix(profiles: Sequence[Profile], of: str = "neurons") -> np.ndarray:
    """Pairwise Jaccard similarity of profiles (1 on the diagonal)."""
    n = len(profiles)
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = jaccard(profiles[i], profiles[j], of)
    return matrix


def within_across(matrix: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                  permutations: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, float]:
    """Within-class against across-class similarity of image profiles.

    Returns
    -------
    table, p_value
        Per class (and ``all``): the mean similarity of its image pairs within the class
        and of its images with other classes' images, their difference and pair counts;
        and the one-sided permutation p-value of the overall difference (labels shuffled
        ``permutations`` times; (1 + #as large) / (1 + permutations); NaN where a
        class has no pair within or across).
    """
    labels = np.asarray(labels)
    upper = np.triu(np.ones_like(matrix, bool), k=1)

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if len(values) else float("nan")

    def difference(lab: np.ndarray) -> float:
        same = lab[:, None] == lab[None, :]
        return mean(matrix[upper & same]) - mean(matrix[upper & ~same])

    rows = []
    for c in np.unique(labels):
        mine = labels == c
        inner = matrix[np.ix_(mine, mine)][np.triu(np.ones((mine.sum(),) * 2, bool), k=1)]
        outer = matrix[np.ix_(mine, ~mine)].ravel()
        rows.append({"class": classes[int(c)], "images": int(mine.sum()), "within": mean(inner),
                     "across": mean(outer), "within_pairs": len(inner),
                     "across_pairs": len(outer)})
    same = labels[:, None] == labels[None, :]
    rows.append({"class": "all", "images": len(labels), "within": mean(matrix[upper & same]),
                 "across": mean(matrix[upper & ~same]),
                 "within_pairs": int((upper & same).sum()),
                 "across_pairs": int((upper & ~same).sum())})
    table = pd.DataFrame(rows)
    table["difference"] = table["within"] - table["across"]
    observed = difference(labels)
    if np.isnan(observed):  # no pairs within (or across) classes: nothing to test
        return table, float("nan")
    rng = np.random.default_rng(seed)
    larger = sum(difference(rng.permutation(labels)) >= observed for _ in range(permutations))
    return table, (1 + larger) / (1 + permutations)


@dataclass(frozen=True)
class MetricSettings:
    """How profile graphs become metric spaces (see :func:`graph_distances`)."""

    weighting: str = "inverted"
    kernel: bool = True
    cap_factor: float = 2.0


def profile_topology(profile: Profile, metric: MetricSettings, grid: ImageGrid
                     ) -> tuple[list[np.ndarray], np.ndarray, int]:
    """One profile's diagrams (H0, H1), its H1 persistence image and bars off the grid."""
    _, adjacency = profile_graph(profile, metric.weighting)
    diagrams = graph_diagrams(graph_distances(adjacency, metric.kernel, metric.cap_factor))
    image, outside = persistence_image(diagrams[1], grid)
    return diagrams, image, outside
