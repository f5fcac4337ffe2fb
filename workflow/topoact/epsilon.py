"""DBSCAN ε from the sorted k-distance curve (Ester et al. 1996; TopoAct §4).

The k-distance of a point is the distance to its k-th nearest neighbour *counting the
point itself*, exactly as DBSCAN's ``min_samples`` counts it: with k = min_samples, a
point is a core point of DBSCAN(ε, min_samples) exactly when its k-distance is ≤ ε. The
distances come from PyNNDescent's approximate k-NN graph (as TopoAct did). Sorted in
ascending order, the curve is flat over dense regions and rises steeply into the noise;
ε is read at its knee (Ester et al.'s "valley" of the descending plot): the point of the
normalised curve farthest below the chord joining its ends (the Kneedle criterion).

Large clouds (above ``max_points``) get the k-distances of every point from a partition
into k-means *cells*: each point meets the points of the few cells nearest to it. A
missed neighbour only lengthens a k-distance, so the largest values, which set the
curve's scale and hence the knee, are then made exact until the maximum is certain.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from topoact.devices import resolve_device, squared_norms
from topoact.duplicates import find_duplicates
from topoact.validation import check_finite

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

    scipy's k-d tree in up to 16 dimensions (no scikit-learn import, which would cost
    the weight-space filters' jobs more than their search), scikit-learn's automatic
    choice above.
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

    x = _as_tensor(points, device)
    if len(x) < k:
        raise ValueError(f"k-NN with k={k} needs at least {k} points, got {len(x)}")
    sqnorm = squared_norms(x)
    norm = np.sqrt(sqnorm.double().cpu().numpy())
    by_norm = np.argsort(norm, kind="stable")
    sorted_norm = norm[by_norm]
    by_norm_t = torch.as_tensor(by_norm, device=x.device)
    queries = np.asarray(queries)
    query_order = np.argsort(norm[queries], kind="stable")
    result = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), query_chunk):
        chosen = query_order[start:start + query_chunk]
        q_rows = queries[chosen]
        q_index = torch.as_tensor(q_rows, device=x.device)
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


def cell_knn_distances(points: np.ndarray, k: int, probe: int = 8, cells: int | None = None,
                       seed: int = 0, device: str = "cpu") -> np.ndarray:
    """Approximate k-NN distances of every point, from a partition into k-means cells.

    Each point meets the points of the ``probe`` cells whose centres are nearest to it
    (its own cell first), in float32 tiles of ‖q‖² + ‖x‖² − 2q·x (torch, CPU or CUDA). A
    neighbour in a cell not probed is missed, which can only lengthen a k-distance: every
    value is at least the exact one, and equal to it wherever the k nearest lie in the
    probed cells (most points; see bench/RESULTS.md). A probed cell is skipped where it
    cannot hold a point nearer than the k-th found in the point's own cell. Exact
    duplicates are searched once; a row with k copies has k-distance 0.

    Parameters
    ----------
    points
        (N, C) array.
    k
        Neighbours per point, counting the point itself.
    probe
        Cells each point meets.
    cells
        Number of k-means cells (default: N / 512, rounded up). At a given number of
        points searched per point (``probe`` · N / ``cells``), more and smaller cells
        miss fewer neighbours, but each point is first compared with every centre.
    seed
        Seed of the k-means sample and initial centres.
    device
        Where the tiles are computed.

    Returns
    -------
    np.ndarray
        (N, k) distances, ascending along each row; inf where the probed cells hold
        fewer than k points.
    """
    import torch  # here, not at import: the command line's start-up stays light

    if len(points) <= k:
        raise ValueError(f"k-NN with k={k} needs more than {k} points, got {len(points)}")
    x, duplicates = _as_tensor(points, device), find_duplicates(points)
    sqnorm = squared_norms(x)
    distinct = torch.as_tensor(duplicates.first, device=x.device)
    # A row's k nearest never need more than k copies of another row (or of itself).
    copies = torch.as_tensor(np.minimum(duplicates.weight, k), device=x.device)
    neighbours = distinct.repeat_interleave(copies)
    cells = min(len(neighbours), cells or -(-len(neighbours) // 512))
    centres = _kmeans_centres(x[_sample(neighbours, 64 * cells, seed)], cells, seed)
    nearest, centre_sqdist = _nearest_centres(x, centres, min(probe, cells), distinct)
    neighbour_cell = nearest[:, 0].repeat_interleave(copies)
    searched = torch.as_tensor(duplicates.weight < k, device=x.device)
    queries, nearest, centre_sqdist = distinct[searched], nearest[searched], centre_sqdist[searched]
    best = _search_cells(x, sqnorm, neighbours, neighbour_cell, queries, nearest[:, 0], k, cells)
    # The other probed cells, where they can hold a point nearer than the k-th found in
    # the point's own cell: a point of cell c is nearer to c's centre than to the home
    # centre h, so at least (d(q, c)² − d(q, h)²) / (2‖c − h‖) from q (the bisector).
    bisector = (centre_sqdist[:, 1:] - centre_sqdist[:, :1]) / (
        2 * _centre_distances(centres, nearest)).clamp_min(1e-30)
    row, slot = torch.nonzero(bisector <= best[:, k - 1:].clamp_min(0).sqrt(), as_tuple=True)
    found = x.new_full((len(queries), nearest.shape[1] - 1, k), float("inf"))
    found[row, slot] = _search_cells(x, sqnorm, neighbours, neighbour_cell, queries[row],
                                     nearest[row, slot + 1], k, cells)
    best = torch.cat([best, found.flatten(start_dim=1)], dim=1).topk(
        k, dim=1, largest=False).values
    best[:, 0] = 0.0  # the point itself (rounding can leave a tiny non-zero)
    per_distinct = np.zeros((len(duplicates.first), k), dtype=np.float32)
    per_distinct[searched.cpu().numpy()] = best.clamp_min_(0).sqrt_().sort(dim=1).values.cpu()
    return per_distinct[duplicates.inverse]


def _sample(rows: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """A seeded uniform sample of ``size`` of ``rows`` (all of them if fewer)."""
    chosen = np.random.default_rng(seed).choice(len(rows), min(len(rows), size), replace=False)
    return rows[np.sort(chosen)]


def _kmeans_centres(sample: torch.Tensor, cells: int, seed: int, iterations: int = 5
                    ) -> torch.Tensor:
    """Lloyd's k-means of a sample (a few passes suffice: the cells only need to keep
    near points together, not to converge)."""
    import torch  # loaded already: the caller holds a tensor

    start = np.random.default_rng(seed).choice(len(sample), cells, replace=False)
    centres = sample[torch.as_tensor(start, device=sample.device)].clone()
    for _ in range(iterations):
        assigned = _nearest_centres(sample, centres, 1)[0][:, 0]
        counts = torch.bincount(assigned, minlength=cells)
        sums = torch.zeros_like(centres).index_add_(0, assigned, sample)
        filled = counts > 0  # an empty cell keeps its centre
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


def _nearest_centres(x: torch.Tensor, centres: torch.Tensor, probe: int,
                     rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``probe`` nearest centres of each row of ``x`` (or of ``x[rows]``), nearest
    first: their indices and squared distances less the row's ‖x‖² (the same for every
    centre; tiles of ≤ 32 MB)."""
    import torch  # loaded already: the caller holds a tensor

    chunk = max(1, (32 << 20) // (4 * len(centres)))
    parts = x.split(chunk) if rows is None else (x[part] for part in rows.split(chunk))
    centre_sqnorm = centres.pow(2).sum(dim=1)[None, :]
    nearest = [torch.addmm(centre_sqnorm, part, centres.T, alpha=-2).topk(
        probe, dim=1, largest=False) for part in parts]
    return (torch.cat([found.indices for found in nearest]),
            torch.cat([found.values for found in nearest]))


def _centre_distances(centres: torch.Tensor, nearest: torch.Tensor, rows: int = 8192
                      ) -> torch.Tensor:
    """‖c − h‖ from each row's home centre h (``nearest[:, 0]``) to its other centres."""
    import torch  # loaded already: the caller holds a tensor

    return torch.cat([(centres[part[:, 1:]] - centres[part[:, :1]]).norm(dim=2)
                      for part in nearest.split(rows)])


def _search_cells(x: torch.Tensor, sqnorm: torch.Tensor, points: torch.Tensor,
                  point_cell: torch.Tensor, queries: torch.Tensor, query_cell: torch.Tensor,
                  k: int, cells: int, query_chunk: int = 2048, point_chunk: int = 8192
                  ) -> torch.Tensor:
    """(len(queries), k) squared distances of each query row's k nearest among the
    ``points`` (rows of ``x``) of one cell (``query_cell``), ascending, inf past the
    cell's size. Cell by cell: a cell's points meet every query that visits it."""
    import torch  # loaded already: the caller holds a tensor

    members = points[torch.argsort(point_cell, stable=True)]  # the points, cell by cell
    member_start = np.concatenate([[0], np.cumsum(
        torch.bincount(point_cell, minlength=cells).cpu().numpy())])
    visits = torch.argsort(query_cell, stable=True)  # the queries, cell by cell
    visit_start = np.concatenate([[0], np.cumsum(
        torch.bincount(query_cell, minlength=cells).cpu().numpy())])
    found = x.new_full((len(queries), k), float("inf"))
    for c in np.flatnonzero(np.diff(visit_start) * np.diff(member_start)):
        for part in members[member_start[c]:member_start[c + 1]].split(point_chunk):
            part_x, part_sqnorm = x[part].T.contiguous(), sqnorm[part][None, :]
            for visit in visits[visit_start[c]:visit_start[c + 1]].split(query_chunk):
                q = queries[visit]
                partial = torch.addmm(part_sqnorm, x[q], part_x, alpha=-2)
                # ‖q‖² is the same along a row: added to the k kept, not to the whole tile.
                nearest_k = partial.topk(min(k, len(part)), dim=1, largest=False).values
                nearest_k += sqnorm[q][:, None]
                found[visit] = torch.cat([found[visit], nearest_k], dim=1).topk(
                    k, dim=1, largest=False).values
    return found


def exact_largest(points: np.ndarray, kth: np.ndarray, k: int, first: int = 64,
                  device: str = "cpu") -> tuple[np.ndarray, int]:
    """Make the largest of some k-distances exact until the maximum is certain.

    ``kth`` are k-distances never below the exact ones (:func:`cell_knn_distances`).
    Points are taken from the largest value down, in doubling batches, and given their
    exact k-distance (:func:`query_knn_distances`); once the next value is at most the
    largest exact one found, no point left can exceed it, so the curve's maximum (which
    scales the curve, and so moves the knee) is the exact cloud's.

    Returns
    -------
    kth, verified
        A copy of ``kth`` with the verified values exact, and how many were verified.
    """
    kth = np.array(kth, dtype=np.float32)
    order = np.argsort(-kth, kind="stable")
    largest, verified, batch = 0.0, 0, first
    while verified < len(order) and kth[order[verified]] > largest:
        chosen = np.sort(order[verified:verified + batch])
        exact = query_knn_distances(points, chosen, k, device)[:, k - 1]
        kth[chosen] = exact
        largest = max(largest, float(exact.max()))
        verified, batch = verified + len(chosen), 2 * batch
    return kth, verified


def _as_tensor(points: np.ndarray, device: str) -> torch.Tensor:
    """The cloud as a float32 tensor on ``device`` (``auto``, ``cpu``, ``cuda``; no copy of
    a float32 array on a CPU)."""
    import torch  # here, not at import: the command line's start-up stays light

    with warnings.catch_warnings():  # a read-only (memory-mapped) cloud is only read
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        x = torch.from_numpy(np.asarray(points, dtype=np.float32))
    return x.to(resolve_device(device))


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
                     seed: int = 0, n_jobs: int = 1, exact_below: int = 0,
                     large: str = "cells", device: str = "cpu"
                     ) -> tuple[EpsilonEstimate, np.ndarray]:
    """Estimate DBSCAN's ε for ``points`` from the knee of the sorted k-distances.

    Parameters
    ----------
    points
        (N, C) activation vectors.
    k
        Neighbours counting the point itself; use DBSCAN's ``min_samples``.
    max_points
        Clouds larger than this get the k-distances of ``large``. None: never.
    seed
        Seed of the subsample and of the NN-descent.
    n_jobs
        Threads.
    exact_below
        Clouds of at most this many points get exact k-NN distances (scikit-learn)
        instead of PyNNDescent's: faster there, since PyNNDescent compiles its numba
        kernels anew in every process.
    large
        For clouds above ``max_points``: ``cells``, every point's k-distances among the
        points of its nearest k-means cells (:func:`cell_knn_distances`), the largest
        made exact (:func:`exact_largest`); or ``queries``, a uniform random subsample
        of ``max_points`` points, each with its exact k-NN among *all* points (recorded
        as ``subsampled``: the curve is a sample of the whole cloud's curve, whose knee
        moves with the draw).
    device
        Where the torch searches of ``large`` run (``auto``, ``cpu`` or ``cuda``).

    Returns
    -------
    estimate, curve
        The estimate and the ascending sorted k-distance curve it was read from.
    """
    if large not in ("cells", "queries"):  # checked here: small clouds never read it
        raise ValueError(f"large={large!r}: expected 'cells' or 'queries'")
    check_finite(points, "points")
    n = len(points)
    kth, used, neighbours = _kth_distances(points, k, max_points, seed, n_jobs, exact_below,
                                           large, device)
    curve = np.sort(kth)
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


def _kth_distances(points: np.ndarray, k: int, max_points: int | None, seed: int,
                   n_jobs: int, exact_below: int, large: str, device: str
                   ) -> tuple[np.ndarray, int, str]:
    """The k-distances :func:`estimate_epsilon` reads its curve from, how many points
    they are of, and how they were found."""
    n = len(points)
    if max_points is not None and n > max_points:
        if large == "cells":
            approximate = cell_knn_distances(points, k, seed=seed, device=device)[:, k - 1]
            kth, verified = exact_largest(points, approximate, k, device=device)
            return kth, n, (f"k-means cells, every point (torch); the {verified} largest "
                            "k-distances exact")
        queries = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        return (query_knn_distances(points, queries, k, device)[:, k - 1], max_points,
                "exact, subsample of queries against every point (torch)")
    if n <= exact_below:
        return exact_knn_distances(points, k)[:, k - 1], n, "exact (scikit-learn)"
    return knn_distances(points, k, seed, n_jobs)[:, k - 1], n, "pynndescent"
