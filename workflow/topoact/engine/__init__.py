"""The mapper engine: exact DBSCAN of every cover interval, tiled in torch (CPU or CUDA).

Same labels as scikit-learn's ``DBSCAN(eps, min_samples)`` on each interval's points
(border points included), without neighbourhood lists or a distance matrix:

0. *Duplicates* — exact duplicate rows are found once per cloud (hash, then checked) and
   clustered once with their multiplicity as weight; duplicates share their lens, so
   they always fall in the same intervals.
1. *Order* — an interval's distinct points are sorted by their projection on the
   interval's first principal direction. A projection on a unit vector is 1-Lipschitz
   (|⟨x−y, v⟩| ≤ ‖x−y‖), so a tile of rows only meets the contiguous window of columns
   whose projection lies within ε of the rows' range; nothing outside it can be a
   neighbour. (The lens ‖x‖ gives the same bound, but inside one interval it varies by
   less than ε, so the projection is what prunes.)
2. *Close pairs* — tiles of squared distances (‖x‖² + ‖y‖² − 2x·y in float32, pairs
   within a rounding band of an ε² recomputed exactly in float64) are computed once for
   every (cover, ε) of a grid. Where an interval's close pairs fit in ``cache_bytes``
   (estimated first from a sample of pairs), they are listed once, at about 2 bytes per
   pair for all ε together (per pair, its column in the slab and the number of ε it is
   farther than packed in an int16; per slab row, its number of pairs), a slab of rows
   at a time against only the columns it can reach (from its own first row in a
   diagonal tile, up to ε past its last row's projection); the passes below then read
   that list in chunks, each chunk serving every (cover, ε) graph at once. Otherwise
   each pass recomputes its tiles.
3. *Core counts* — each point's weighted neighbours within its cover's interval: from
   an edge list, one ``bincount`` histogram of (point, level, the neighbour's cover
   pattern); when recomputing, column tiles are taken nearest first and a row stops
   being counted once it is known to be core (early exit).
4. *Clusters* — core points are joined by union–find, every graph's components in one
   call per chunk (diagonal tiles first; a chunk or tile only passes on the pairs of
   components not joined yet).
5. *Borders* — each non-core point joins the lowest-numbered cluster among its core
   neighbours, the cluster scikit-learn's expansion reaches first; clusters are numbered
   by their lowest point index, as scikit-learn numbers them.

Intervals are clustered in parallel threads on a CPU (the steps after the distance
products are mostly single-threaded kernels). Memory beyond the input cloud is a few
tiles, the edge lists (≤ ``cache_bytes`` in all) and O(n) index arrays; under glibc,
:func:`~topoact.engine.memory.tune_heap` (opt-in) keeps the worker threads' heaps from
holding the high-water mark of every tile. The same code runs on a GPU when given a
CUDA device.

The parts, one at a time: :mod:`~topoact.duplicates` (step 0, shared with the ε
estimate), :mod:`~topoact.engine.tiles` (ordering, distance tiles, close pairs),
:mod:`~topoact.engine.edges` (the edge-list path, steps 2–5 from one listing),
:mod:`~topoact.engine.recompute` (the same steps recomputing tiles, for intervals too
dense to list), :mod:`~topoact.engine.memory` (tile size, glibc's heap); this module
picks the path per interval and runs the grid.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from topoact.devices import squared_norms
from topoact.duplicates import Duplicates, find_duplicates
from topoact.engine import edges, memory, recompute, tiles
from topoact.engine.edges import labels_from_edges, list_edges
from topoact.engine.memory import bound_heap_growth, release_free_heap, resolve_tile, tune_heap
from topoact.engine.recompute import labels_by_recompute
from topoact.engine.tiles import EngineStats, Interval
from topoact.graph import BuildCancelled

__all__ = ["BuildCancelled", "Duplicates", "EngineStats", "bound_heap_growth", "cluster_grid",
           "edges", "find_duplicates", "full_float32_precision", "interval_labels", "memory",
           "one_torch_thread", "recompute", "release_free_heap", "resolve_tile", "tiles",
           "tune_heap"]


def interval_labels(cloud: torch.Tensor, sqnorm: torch.Tensor, rows: np.ndarray,
                    weight: np.ndarray, membership: np.ndarray, eps: list[float],
                    min_samples: int, tile: int = 2048,
                    stats: EngineStats | None = None,
                    cache_bytes: int = 256 << 20, order: np.ndarray | None = None
                    ) -> np.ndarray:
    """DBSCAN labels of one interval for every (cover, ε) of a grid, from shared tiles.

    Parameters
    ----------
    cloud
        ``(N, D)`` float32 tensor on the engine's device.
    sqnorm
        Its squared row norms (float32, same device).
    rows
        Ascending rows of the distinct points in the union of the interval over the
        grid's covers.
    weight
        Multiplicity of each of those rows.
    membership
        ``(P, len(rows))``: which rows the interval holds in each of P covers (bool), or
        how many times (integers: a bootstrap's resample holds a row 0, 1, 2, … times);
        a row weighs ``membership · weight`` in a cover.
    eps, min_samples
        DBSCAN's parameters (d ≤ ε; a core point has ≥ min_samples points within ε,
        itself and its duplicates included), one labelling per ε.
    tile
        Rows (and columns) of one distance tile.
    stats
        Counters to add to.
    cache_bytes
        Largest size of the interval's edge list (about 2 bytes per pair within the widest
        ε) kept from the counting pass for the later passes; denser intervals recompute
        distances in each pass instead.
    order
        ``(P, len(rows))``: the index at which each cover's cloud holds each row, which
        numbers the clusters (default ``rows``). A resample holds a point with duplicates
        at the first copy it drew, not always at ``rows``.

    Returns
    -------
    numpy.ndarray
        int64 ``(P, len(eps), len(rows))``: labels numbered as scikit-learn numbers
        them on the interval's points of that cover; −1 for noise and non-members.
    """
    eps = [float(e) for e in eps]
    n, covers, k = len(rows), len(membership), len(eps)
    if k > 255:  # an edge's level is a uint8
        raise ValueError(f"at most 255 ε values per pass, got {k}")
    stats = stats if stats is not None else EngineStats()
    labels = np.full((covers, k, n), -1, dtype=np.int64)
    if n == 0:
        return labels
    device = cloud.device
    part = Interval(cloud, sqnorm, rows, eps, tile, stats)
    memory.trim_between_stages()
    where = np.searchsorted(rows, part.rows)
    # Float32 holds the multiplicities exactly (far below 2**24).
    multiplicity = torch.as_tensor(np.asarray(membership)[:, where] * np.asarray(weight)[where],
                                   device=device, dtype=torch.float32)         # (P, n)
    order = np.broadcast_to(rows if order is None else order, membership.shape)[:, where]
    pairs = part.tile_pairs()
    for b, c in pairs:
        stats.pairs_in_windows += ((part.blocks[b][1] - part.blocks[b][0])
                                   * (part.blocks[c][1] - part.blocks[c][0]) * (2 - (b == c)))

    # Whole tiles first, keeping every tile's close pairs as an edge list while it fits
    # in ``cache_bytes``; the later passes then work on the edges alone (linear in their
    # number). A dense interval whose edges do not fit recomputes its tiles in each pass.
    edge_list = list_edges(part, pairs, cache_bytes)
    stats.intervals_without_edge_list += edge_list is None
    memory.trim_between_stages()
    if edge_list is not None:
        labels_from_edges(part, edge_list, multiplicity, order, min_samples, labels)
    else:
        labels_by_recompute(part, pairs, multiplicity, order, min_samples, labels)
    memory.trim_between_stages()
    out = np.empty_like(labels)
    out[:, :, where] = labels
    return out


def cluster_grid(points: np.ndarray, covers: list[list[np.ndarray]], eps: list[float],
                 min_samples: int, device: str | torch.device = "cpu",
                 tile: int | None = None, progress: bool = False,
                 stats: EngineStats | None = None, cache_bytes: int = 256 << 20,
                 workers: int | None = None, cancel: Callable[[], bool] | None = None
                 ) -> Iterator[tuple[int, list[list[np.ndarray | None]]]]:
    """DBSCAN labels of every interval of several covers, for several ε, in one pass.

    Interval i of every cover is clustered together: the distance tiles of the union of
    those intervals are computed once and serve every (cover, ε) of the grid.

    Parameters
    ----------
    points
        ``(N, D)`` cloud (float32 is used as is; other dtypes are converted).
    covers
        For each cover, each interval's member rows, ascending; all covers have the
        same number of intervals. A row may repeat (a bootstrap's resample): it then
        weighs as many points.
    eps, min_samples
        DBSCAN's parameters.
    device
        ``cpu`` or ``cuda``: where the tiles are computed.
    tile
        Rows of one distance tile (default: from :func:`resolve_tile`).
    progress
        tqdm bar over intervals.
    stats
        Counters of the work done (added to).
    cache_bytes
        See :func:`interval_labels` (0 recomputes distances in every pass); shared by
        the workers (each keeps at most its share).
    workers
        Intervals clustered at once, each in a thread with one torch thread (default:
        torch's thread count on a CPU, where most steps after the distance products
        are single-threaded kernels; 1 on a GPU). With several workers torch runs one
        thread per operation until the generator is exhausted or closed (the last of
        concurrent passes restores the count: :func:`one_torch_thread`).
    cancel
        Asked before each interval: when it returns True, the pass stops there (the
        intervals being clustered finish, the others never start) and raises
        :class:`~topoact.graph.BuildCancelled`.

    Yields
    ------
    interval, labels
        ``labels[p][e]``: the labels of cover p's interval members for ε number e, in
        member order, or None where the interval has fewer than min_samples points;
        intervals in order. Intervals where no cover has min_samples points are skipped
        without a task each (a 2-D lens's cover has n² cubes, mostly empty).
    """
    if len({len(cover) for cover in covers}) != 1:
        raise ValueError("the covers of one grid must have the same number of intervals")
    device = torch.device(device)
    x = np.ascontiguousarray(points, dtype=np.float32)
    duplicates = find_duplicates(x)
    cloud = torch.from_numpy(x).to(device)
    sqnorm = squared_norms(cloud)
    tile = tile or resolve_tile(x.shape[1], device)
    threads = torch.get_num_threads()
    workers = workers or (threads if device.type == "cpu" else 1)
    stats = stats if stats is not None else EngineStats()

    def cluster(i: int):
        if cancel is not None and cancel():
            raise BuildCancelled(f"cancelled before interval {i}")
        members = [cover[i] for cover in covers]
        used = [len(m) >= min_samples for m in members]
        union = np.unique(np.concatenate([m for m, u in zip(members, used, strict=True) if u]))
        distinct = np.unique(duplicates.inverse[union])
        rows = duplicates.first[distinct]  # ascending: first occurrences keep index order
        # How many times each cover holds each distinct point (its duplicates and, in a
        # resample, its repeats), and the first of its rows each cover holds.
        membership = np.zeros((len(covers), len(rows)), dtype=np.int64)
        order = np.tile(rows, (len(covers), 1))
        local = []
        for p, m in enumerate(members):
            position = np.searchsorted(distinct, duplicates.inverse[m])
            if used[p]:
                membership[p] = np.bincount(position, minlength=len(rows))
                first = np.full(len(rows), np.iinfo(np.int64).max)
                np.minimum.at(first, position, m)
                order[p] = np.where(membership[p] > 0, first, rows)
            local.append(position)
        own = EngineStats()
        labels = interval_labels(cloud, sqnorm, rows, np.ones(len(rows), np.int64),
                                 membership, eps, min_samples, tile, own,
                                 cache_bytes // workers, order)
        memory.trim_between_stages()
        return own, [[labels[p, e, local[p]] if used[p] else None for e in range(len(eps))]
                     for p in range(len(covers))]

    active = [i for i in range(len(covers[0]))
              if any(len(cover[i]) >= min_samples for cover in covers)]
    pool = ThreadPoolExecutor(workers, thread_name_prefix="mapper-interval")
    with one_torch_thread(workers > 1 and threads > 1), full_float32_precision():
        try:
            # One worker runs in this thread (plain tracebacks and profiles).
            results = (pool.map if workers > 1 else map)(cluster, active)
            for i, (own, labels) in tqdm(zip(active, results, strict=True), total=len(active),
                                         desc="mapper intervals", unit="interval",
                                         disable=not progress):
                stats.merge(own)
                yield i, labels
        finally:
            pool.shutdown(cancel_futures=True)


class _SharedSetting:
    """A process-wide torch setting held while any engine pass needs it: the first pass
    to need it saves the value and sets it, the last restores it, so passes overlapping
    in time (the live server's builds) cannot leave the process changed. Where the value
    is already what passes need, nothing is written."""

    def __init__(self, read: Callable[[], Any], write: Callable[[Any], None],
                 needed: Callable[[Any], bool], value: Any):
        self.read, self.write, self.needed, self.value = read, write, needed, value
        self.lock, self.passes, self.saved = threading.Lock(), 0, None

    @contextmanager
    def held(self, wanted: bool = True) -> Iterator[None]:
        with self.lock:
            wanted = wanted and (self.passes > 0 or self.needed(self.read()))
            if wanted:
                if self.passes == 0:
                    self.saved = self.read()
                    self.write(self.value)
                self.passes += 1
        try:
            yield
        finally:
            if wanted:
                with self.lock:
                    self.passes -= 1
                    if self.passes == 0:
                        self.write(self.saved)


def _read_precision() -> tuple[str, str]:
    return (torch.backends.cuda.matmul.fp32_precision,
            torch.backends.mkldnn.matmul.fp32_precision)


def _write_precision(value: tuple[str, str]) -> None:
    torch.backends.cuda.matmul.fp32_precision, torch.backends.mkldnn.matmul.fp32_precision = value


_ONE_THREAD = _SharedSetting(torch.get_num_threads, torch.set_num_threads,
                             lambda threads: threads > 1, 1)
# The distance tiles are float32 products whose rounding band is recomputed in float64;
# TF32 (CUDA) or bf16 (oneDNN) products round far outside that band.
_FULL_PRECISION = _SharedSetting(_read_precision, _write_precision,
                                 lambda value: any(v not in ("none", "ieee") for v in value),
                                 ("ieee", "ieee"))


def one_torch_thread(wanted: bool = True):
    """Torch on one thread per operation while any multi-worker pass runs.

    Torch's thread count is process-wide: the first of concurrent passes saves it and
    sets 1, the last restores it, so two passes overlapping in time (the live server's
    builds) cannot leave the process on one thread. A process that runs torch on one
    thread already (``topoact serve`` sets it once at start-up) changes nothing.
    """
    return _ONE_THREAD.held(wanted)


def full_float32_precision():
    """Float32 matrix products at full precision while a pass runs: TF32 or bf16 switched
    on elsewhere in the process (``torch.set_float32_matmul_precision("medium")``) is
    switched off meanwhile, then back on."""
    return _FULL_PRECISION.held()
