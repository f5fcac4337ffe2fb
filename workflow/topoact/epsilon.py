"""DBSCAN ε from the sorted k-distance curve (Ester et al. 1996; TopoAct §4).

The k-distance of a point is the distance to its k-th nearest neighbour *counting the
point itself*, exactly as DBSCAN's ``min_samples`` counts it: with k = min_samples, a
point is a core point of DBSCAN(ε, min_samples) exactly when its k-distance is ≤ ε. The
distances come from PyNNDescent's approximate k-NN graph (as TopoAct did). Sorted in
ascending order, the curve is flat over dense regions and rises steeply into the noise;
ε is read at its knee (Ester et al.'s "valley" of the descending plot): the point of the
normalised curve farthest below the chord joining its ends (the Kneedle criterion).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from topoact import plots, store

if TYPE_CHECKING:  # torch loads only when a k-NN search runs
    import torch


@dataclass
class EpsilonEstimate:
    """An ε read off the sorted k-distance curve, with what it was computed from."""

    epsilon: float
    k: int
    knee_index: int
    n_points: int
    points_used: int
    subsampled: bool
    seed: int
    method: str = "knee of the sorted k-distance curve (max distance below the chord)"
    neighbours: str = "pynndescent"
    curve: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def exact_knn_distances(points: np.ndarray, k: int) -> np.ndarray:
    """Exact k-NN distances, the point itself included; (N, k) ascending.

    scipy's k-d tree in up to 16 dimensions (no scikit-learn import, 1.5 s per process:
    weight-space filters), scikit-learn's automatic choice above.
    """
    points = np.asarray(points, dtype=np.float32)
    if len(points) <= k:
        raise ValueError(f"k-NN with k={k} needs more than {k} points, got {len(points)}")
    if points.shape[1] <= 16:
        distances, _ = cKDTree(points).query(points, k=k)
        return distances.reshape(len(points), k)
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)
    return distances


def knn_distances(points: np.ndarray, k: int, seed: int = 0, n_jobs: int = 1) -> np.ndarray:
    """Approximate k-NN distances with PyNNDescent, the point itself included.

    Parameters
    ----------
    points
        (N, C) array.
    k
        Neighbours per point, counting the point itself (so column 0 is 0).
    seed
        Random state of the NN-descent.
    n_jobs
        Threads for PyNNDescent.

    Returns
    -------
    np.ndarray
        (N, k) distances, ascending along each row.
    """
    from pynndescent import NNDescent

    points = np.ascontiguousarray(points, dtype=np.float32)
    if len(points) <= k:
        raise ValueError(f"k-NN with k={k} needs more than {k} points, got {len(points)}")
    index = NNDescent(points, n_neighbors=k, metric="euclidean", random_state=seed,
                      n_jobs=n_jobs, low_memory=True, compressed=False)
    _, distances = index.neighbor_graph
    return np.sort(distances, axis=1)


def query_knn_distances(points: np.ndarray, queries: np.ndarray, k: int,
                        device: str = "cpu", query_chunk: int = 1024,
                        point_chunk: int = 16384, probe: int = 4096) -> np.ndarray:
    """Exact k-NN distances of some points (``queries``: row indices) among all points.

    Tiles of ‖q‖² + ‖x‖² − 2q·x in float32 with torch (CPU or CUDA) and a running top-k.
    The norm prunes: | ‖x‖ − ‖q‖ | ≤ ‖x − q‖, so with the points in norm order, a chunk
    of queries (also in norm order) needs only the points whose norm is within its
    k-distances of its own norms. Those k-distances are first bounded from above by the
    ``probe`` points nearest in norm on each side; the chunk then meets the contiguous
    run of points within that bound (the answer stays exact). The point itself is its own
    first neighbour, as DBSCAN counts it.

    Returns
    -------
    np.ndarray
        (len(queries), k) distances, ascending along each row.
    """
    import torch  # here, not at import: the command line's start-up stays light

    with warnings.catch_warnings():  # a read-only (memory-mapped) cloud is only read
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        x = torch.from_numpy(np.asarray(points, dtype=np.float32)).to(device)
    if len(x) < k:
        raise ValueError(f"k-NN with k={k} needs at least {k} points, got {len(x)}")
    rows = max(1, (8 << 20) // (4 * max(x.shape[1], 1)))
    sqnorm = torch.cat([c.pow(2).sum(dim=1) for c in x.split(rows)])
    norm = np.sqrt(sqnorm.double().cpu().numpy())
    by_norm = np.argsort(norm, kind="stable")
    sorted_norm = norm[by_norm]
    by_norm_t = torch.as_tensor(by_norm, device=device)
    queries = np.asarray(queries)
    query_order = np.argsort(norm[queries], kind="stable")
    result = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), query_chunk):
        chosen = query_order[start:start + query_chunk]
        q_rows = queries[chosen]
        q_index = torch.as_tensor(q_rows, device=device)
        q, qn = x[q_index], sqnorm[q_index]
        q_norm = norm[q_rows]
        low = int(np.searchsorted(sorted_norm, q_norm.min(), "left"))
        high = int(np.searchsorted(sorted_norm, q_norm.max(), "right"))
        probe_run = (max(0, low - probe), min(len(x), high + probe))
        best = _knn_over_run(x, sqnorm, by_norm_t, q, qn, probe_run, k, point_chunk)
        # Float32 rounding of the tiles: a margin far above it keeps the bound safe.
        reach = np.sqrt(best[:, k - 1].clamp_min(0).double().cpu().numpy()) * (1 + 1e-3) + 1e-6
        run = (int(np.searchsorted(sorted_norm, (q_norm - reach).min(), "left")),
               int(np.searchsorted(sorted_norm, (q_norm + reach).max(), "right")))
        # The rest of the run, beside the probed points (whose distances are known).
        rest = [(run[0], min(run[1], probe_run[0])), (max(run[0], probe_run[1]), run[1])]
        best = torch.cat([best, *(_knn_over_run(x, sqnorm, by_norm_t, q, qn, part, k,
                                                point_chunk)
                                  for part in rest if part[0] < part[1])], dim=1)
        best = best.topk(k, dim=1, largest=False).values
        best[:, 0] = 0.0  # the point itself (rounding can leave a tiny non-zero)
        result[chosen] = best.clamp_min_(0).sqrt_().sort(dim=1).values.cpu().numpy()
    return result


def _knn_over_run(x: torch.Tensor, sqnorm: torch.Tensor, by_norm: torch.Tensor,
                  q: torch.Tensor, qn: torch.Tensor, run: tuple[int, int], k: int,
                  point_chunk: int) -> torch.Tensor:
    """Squared distances of each query's k nearest among the points ``by_norm[run]``
    (ascending per row; inf where the run holds fewer than k points); ``qn`` are the
    queries' squared norms."""
    import torch  # loaded already by query_knn_distances

    best = q.new_full((len(q), k), float("inf"))
    for first in range(run[0], run[1], point_chunk):
        index = by_norm[first:min(first + point_chunk, run[1])]
        d2 = torch.addmm(sqnorm[index][None, :], q, x[index].T, alpha=-2)
        d2 += qn[:, None]
        nearest = d2.topk(min(k, d2.shape[1]), dim=1, largest=False).values
        best = torch.cat([best, nearest], dim=1).topk(k, dim=1, largest=False).values
    return best


def knee_index(curve: np.ndarray) -> int:
    """Index of the knee of an ascending curve: the point farthest below its chord.

    Both axes are scaled to [0, 1] first, so the answer does not depend on units.
    A straight or degenerate curve has no knee; the last index is returned then.
    """
    y = np.asarray(curve, dtype=np.float64)
    if len(y) < 3 or y[-1] == y[0]:
        return len(y) - 1
    x = np.linspace(0.0, 1.0, len(y))
    y = (y - y[0]) / (y[-1] - y[0])
    below_chord = x - y  # the chord of the scaled curve is the diagonal y = x
    return int(np.argmax(below_chord))


def estimate_epsilon(points: np.ndarray, k: int = 5, max_points: int | None = 50_000,
                     seed: int = 0, n_jobs: int = 1, exact_below: int = 0
                     ) -> tuple[EpsilonEstimate, np.ndarray]:
    """Estimate DBSCAN's ε for ``points`` from the knee of the sorted k-distances.

    Parameters
    ----------
    points
        (N, C) activation vectors.
    k
        Neighbours counting the point itself; use DBSCAN's ``min_samples``.
    max_points
        Clouds larger than this are estimated from a uniform random subsample of this
        many points, each with its exact k-NN among *all* points (recorded as
        ``subsampled``): the curve is then a sample of the whole cloud's curve, not the
        curve of a sparser cloud, whose k-distances would all be longer. None uses
        every point.
    seed
        Seed of the subsample and of the NN-descent.
    n_jobs
        Threads.
    exact_below
        Clouds of at most this many points get exact k-NN distances (scikit-learn)
        instead of PyNNDescent's: faster there, since PyNNDescent compiles its numba
        kernels anew in every process (about 30 s).

    Returns
    -------
    estimate, curve
        The estimate and the ascending sorted k-distance curve it was read from.
    """
    store.check_finite(points, "points")
    n = len(points)
    if max_points is not None and n > max_points:
        rng = np.random.default_rng(seed)
        queries = np.sort(rng.choice(n, size=max_points, replace=False))
        distances = query_knn_distances(points, queries, k)
        used, neighbours = max_points, "exact, subsample of queries against every point (torch)"
    elif n <= exact_below:
        distances, used, neighbours = exact_knn_distances(points, k), n, "exact (scikit-learn)"
    else:
        distances, used, neighbours = knn_distances(points, k, seed, n_jobs), n, "pynndescent"
    curve = np.sort(distances[:, k - 1])
    knee = knee_index(curve)
    quantiles = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
    summary = {
        "quantiles": {f"{q:g}": float(np.quantile(curve, q)) for q in quantiles},
        "knee_fraction": knee / max(len(curve) - 1, 1),
        "sample": [float(v) for v in curve[np.linspace(0, len(curve) - 1, 200).astype(int)]],
    }
    estimate = EpsilonEstimate(epsilon=float(curve[knee]), k=k, knee_index=knee, n_points=n,
                               points_used=used, subsampled=used < n, seed=seed,
                               neighbours=neighbours, curve=summary)
    if estimate.epsilon <= 0:
        # More than half the cloud sits on exact duplicates: the knee is at distance 0.
        positive = curve[curve > 0]
        if len(positive) == 0:
            raise ValueError("every point has k-1 exact duplicates: ε would be 0")
        estimate.epsilon = float(positive[0])
        estimate.method += "; knee at 0 (duplicates), smallest positive k-distance used"
    return estimate, curve


def epsilon_for_store(points_path, json_path, plot_path, *, k: int, max_points: int | None,
                      seed: int = 0, n_jobs: int = 1, exact_below: int = 0,
                      title: str = "") -> EpsilonEstimate:
    """Estimate ε for an activations store; write the JSON record and the k-distance plot."""
    points, _, _ = store.load_points(points_path)
    estimate, curve = estimate_epsilon(points, k, max_points, seed, n_jobs, exact_below)
    plots.plot_k_distance(curve, estimate, plot_path, title)
    store.write_json(json_path, {**estimate.to_dict(), "source": str(points_path)}, indent=2)
    return estimate


def read_epsilon(json_path) -> float:
    """The ε recorded by :func:`epsilon_for_store`."""
    record = store.read_json(json_path)
    if not isinstance(record, dict) or "epsilon" not in record:
        raise store.StoreError(f"{json_path}: no 'epsilon' key (expected an ε estimate record)")
    return float(record["epsilon"])
