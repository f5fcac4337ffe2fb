"""The mapper engine against scikit-learn's DBSCAN, interval by interval, label for label."""

import platform
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.cluster import DBSCAN
from sklearn.neighbors import NearestNeighbors

from topoact import engine, epsilon, mapper


def _cloud(kind: int, rng: np.random.Generator):
    n, d = int(rng.integers(5, 400)), int(rng.integers(1, 24))
    if kind == 0:  # small integers: many exact duplicates and distances of exactly ε
        return rng.integers(0, 4, size=(n, d)).astype(float), float(rng.integers(1, 3))
    if kind == 1:  # blobs of different spread
        centres = rng.normal(0, 5, (4, d))
        points = centres[rng.integers(0, 4, n)] + rng.normal(0, rng.uniform(0.1, 1), (n, d))
        return points, float(rng.uniform(0.3, 2.0))
    dense = rng.normal(0, 0.2, (n // 2, d))  # a dense core in sparse noise, duplicated rows
    points = np.concatenate([dense, rng.uniform(-5, 5, (n - n // 2, d))])
    return np.concatenate([points, points[:10]]), float(rng.uniform(0.1, 1.0))


@pytest.mark.parametrize("trial", range(60))
def test_grid_labels_equal_scikit_learn_per_interval(trial):
    """Every (cover, ε) of a grid, both cover modes, tiles small enough to cross blocks."""
    rng = np.random.default_rng(trial)
    points, eps = _cloud(trial % 3, rng)
    points = points.astype(np.float32).astype(np.float64)  # the engine's float32 values
    min_samples = int(rng.integers(1, 8))
    epsilons = [eps, eps * float(rng.uniform(1.1, 2.0))]
    if trial % 4 == 3:  # widest first, and a repeated ε (edge-list levels with ties)
        epsilons = [epsilons[1], eps, eps]
    lens = mapper.l2_lens(points)
    mode = ("exact", "kmapper")[trial % 2]
    covers = [mapper.make_cover(lens, int(rng.integers(1, 6)), p, mode).members(lens)
              for p in (0.2, 0.5)]
    if len(covers[0]) != len(covers[1]):
        covers[1] = covers[0]
    checked = 0
    # Half the trials keep the counting pass's tiles for the later passes, half recompute.
    for i, labels in engine.cluster_grid(points, covers, epsilons, min_samples,
                                         tile=int(rng.integers(2, 64)),
                                         cache_bytes=(0, 1 << 20)[trial // 3 % 2]):
        for p, cover in enumerate(covers):
            for e, eps_value in enumerate(epsilons):
                if len(cover[i]) < min_samples:
                    assert labels[p][e] is None
                    continue
                expected = DBSCAN(eps=eps_value, min_samples=min_samples).fit_predict(
                    points[cover[i]])
                np.testing.assert_array_equal(labels[p][e], expected)
                checked += 1
    assert checked > 0 or all(len(m) < min_samples for cover in covers for m in cover)


@pytest.mark.parametrize("trial", range(6))
def test_small_slabs_chunks_and_parallel_workers_give_the_same_labels(trial, monkeypatch):
    """Edge lists made of many slabs, read back in many chunks (so the union–find joins
    components chunk by chunk), with intervals clustered in parallel threads."""
    monkeypatch.setattr(engine.tiles, "SLAB_PAIRS", 7)
    monkeypatch.setattr(engine.tiles, "CHUNK_PAIRS", 5 + 40 * (trial % 2))
    rng = np.random.default_rng(100 + trial)
    points, eps = _cloud(trial % 3, rng)
    points = points.astype(np.float32).astype(np.float64)
    lens = mapper.l2_lens(points)
    covers = [mapper.make_cover(lens, 3, p, "kmapper").members(lens) for p in (0.2, 0.5)]
    epsilons = [eps * 1.5, eps]
    stats = engine.EngineStats()
    for i, labels in engine.cluster_grid(points, covers, epsilons, 3, tile=16, workers=2,
                                         stats=stats):
        for p, cover in enumerate(covers):
            for e, eps_value in enumerate(epsilons):
                if labels[p][e] is not None:
                    expected = DBSCAN(eps=eps_value, min_samples=3).fit_predict(
                        points[cover[i]])
                    np.testing.assert_array_equal(labels[p][e], expected)
    assert stats.intervals_without_edge_list == 0 and stats.pairs_computed > 0


def test_border_point_goes_to_the_cluster_with_the_lowest_core_index():
    left = [[0, 0], [-0.5, 0.5], [-0.5, -0.5], [-0.9, 0]]
    right = [[2, 0], [2.5, 0.5], [2.5, -0.5], [2.9, 0]]
    points = np.array(right + left + [[1, 0]], dtype=float)
    (_, labels), = engine.cluster_grid(points, [[np.arange(9)]], [1.0], 4, tile=3)
    assert labels[0][0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0]


def test_ties_at_exactly_eps_count_as_neighbours():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [100.0, 0.0]])  # distance 5
    (_, labels), = engine.cluster_grid(points, [[np.arange(4)]], [5.0, 4.999], 2)
    assert labels[0][0].tolist() == [0, 0, 0, -1]
    assert labels[0][1].tolist() == [-1, -1, -1, -1]


def test_find_duplicates_maps_rows_to_first_occurrences():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 7)).astype(np.float32)
    points = base[rng.integers(0, 50, 400)]
    found = engine.find_duplicates(points)
    chunked = engine.find_duplicates(points, chunk_bytes=7 * 8 * 13)  # 13 rows a chunk
    np.testing.assert_array_equal(chunked.inverse, found.inverse)
    np.testing.assert_array_equal(points[found.first][found.inverse], points)
    assert len(found.first) == len(np.unique(points, axis=0))
    assert found.weight.sum() == 400 and (np.diff(found.first) > 0).all()
    # Rows that differ in one coordinate are never merged.
    close = np.repeat(base[:1], 3, axis=0)
    close[1, 3] = np.nextafter(close[1, 3], np.inf)
    assert len(engine.find_duplicates(close).first) == 2


def test_counters_show_the_pruning_by_projection():
    """Two blobs far apart along one direction: their tiles never meet."""
    rng = np.random.default_rng(1)
    points = np.concatenate([rng.normal(0, 0.1, (300, 5)), rng.normal(0, 0.1, (300, 5)) + 50])
    stats = engine.EngineStats()
    (_, labels), = engine.cluster_grid(points, [[np.arange(600)]], [0.5], 5, tile=64,
                                       stats=stats)
    assert labels[0][0].max() == 1
    assert stats.pairs_in_windows < 0.65 * 600 * 600   # about half: the blobs never meet
    assert stats.pairs_computed < stats.pairs_in_windows  # symmetric tiles, early exit


def test_each_slab_meets_only_the_columns_within_reach(monkeypatch):
    """Points along a line, slabs of 16 rows: a slab computes its distances only to the
    columns from its own first row to ε past its last row's projection, so the work is
    linear in the number of points, and the labels stay exact."""
    monkeypatch.setattr(engine.tiles, "SLAB_PAIRS", 16 * 256)
    rng = np.random.default_rng(2)
    direction = rng.normal(size=8) / np.sqrt(8)
    steps = np.cumsum(rng.uniform(0.2, 1.2, 2000))
    steps[1000:] += 3.0  # a gap wider than ε: two clusters
    points = steps[:, None] * direction + rng.normal(0, 0.01, (2000, 8))
    stats = engine.EngineStats()
    (_, labels), = engine.cluster_grid(points, [[np.arange(2000)]], [1.5], 3, tile=256,
                                       stats=stats)
    np.testing.assert_array_equal(labels[0][0],
                                  DBSCAN(eps=1.5, min_samples=3).fit_predict(points))
    assert stats.pairs_computed < 2000 * 40   # a full upper triangle would be 2,000,000


@pytest.mark.parametrize("dimensions", [3, 128, 1024, 1 << 20])
@pytest.mark.parametrize("memory_mb", [16, 64, 1024, 1 << 16])
def test_tile_size_is_the_largest_whose_working_set_fits_the_budget(dimensions, memory_mb):
    """A quarter of the budget holds the tile's working set, which the next power of two
    would pass (between the smallest tile, 256, and the largest, 8192)."""
    tile = engine.resolve_tile(dimensions, torch.device("cpu"), memory_mb)
    quarter = memory_mb * 2**20 / 4
    assert tile in [2**k for k in range(8, 14)]
    assert tile == 256 or engine.memory.tile_working_set(tile, dimensions) <= quarter
    assert tile == 8192 or engine.memory.tile_working_set(2 * tile, dimensions) > quarter
    # The working set counts 24 bytes per pair and two gathered float32 blocks.
    assert engine.memory.tile_working_set(tile, dimensions) == 24 * tile**2 + 8 * tile * dimensions


def test_sampled_density_estimates_the_close_pairs_in_small_batches(monkeypatch):
    """The list-or-recompute decision's estimate, with float64 batches of 3 rows."""
    monkeypatch.setattr(engine.tiles, "float64_batch", lambda dimensions: 3)
    rng = np.random.default_rng(4)
    points = np.concatenate([rng.normal(0, 1, (400, 6)), rng.normal(0, 1, (200, 6)) + 3])
    cloud = torch.as_tensor(points, dtype=torch.float32)
    sqnorm = cloud.pow(2).sum(dim=1)
    part = engine.tiles.Interval(cloud, sqnorm, np.arange(600), [1.5, 2.5], 128,
                                 engine.EngineStats())
    distance = np.linalg.norm(points[:, None] - points[None], axis=2)
    true_pairs = np.triu(distance <= 2.5, k=1).sum()   # the widest ε, each pair once
    estimate = part.sampled_density(part.tile_pairs())
    assert abs(estimate - true_pairs) < 0.1 * true_pairs


@pytest.mark.parametrize("columns, levels", [(100, 2), (1 << 14, 3)])
def test_edge_list_chunks_cut_large_pieces_and_keep_every_pair_once(columns, levels):
    """Pairs packed as (row counts, column and level codes) come back exactly: pieces
    larger and smaller than the chunk size (a dense slab, sparse ones) in chunks of
    that size (the last one smaller), every pair once, offsets added, with its level;
    int16 codes where columns and levels fit in 15 bits, int32 beyond."""
    rng = np.random.default_rng(5)
    edges = engine.edges.EdgeList.empty([float(e) for e in range(levels)], columns, 200, 4 * 30)
    assert edges.codes.dtype == (torch.int16 if columns == 100 else torch.int32)
    want = []
    for k, size in enumerate([23, 2, 0, 9]):
        i = np.sort(rng.integers(0, 30, size))
        # level `levels`: beyond every ε (listed, in no graph)
        j, level = rng.integers(0, columns, size), rng.integers(0, levels + 1, size)
        assert edges.add(torch.as_tensor(i, dtype=torch.int16),
                         torch.as_tensor(j, dtype=torch.int32),
                         torch.as_tensor(level, dtype=torch.uint8), 30, 1000 * k, 10 * k)
        want.append(np.stack([i + 1000 * k, j + 10 * k, level]))
    chunks = list(edges.chunks(size=4))
    assert [len(i) for i, _, _ in chunks] == [4] * 8 + [2]
    assert all(i.dtype == j.dtype == torch.int64 for i, j, _ in chunks)
    got = np.concatenate([np.stack([c.numpy() for c in chunk]) for chunk in chunks], axis=1)
    np.testing.assert_array_equal(got, np.concatenate(want, axis=1))
    assert (edges.used_codes, edges.used_rows) == (34, 30 * 3)  # the empty slab adds nothing
    # Past the codes' capacity (200 bytes), a slab is refused whole.
    one = torch.zeros(1, dtype=torch.int16)
    assert not edges.add(one.repeat(200), one.repeat(200), one.to(torch.uint8).repeat(200),
                         30, 0, 0)
    assert (edges.used_codes, edges.used_rows) == (34, 30 * 3)


HEAP_PROBE = """
import sys
import numpy as np
from topoact.engine import memory
if sys.argv[1] == "tuned":
    assert memory.tune_heap()
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
big = np.ones(16 << 20, np.uint8); del big  # glibc's dynamic mmap threshold rises to 16 MB
before = rss()
blocks = [np.ones(4 << 20, np.uint8) for _ in range(60)]  # 240 MB, freed but the last
del blocks[:-1]
print((rss() - before) / 2**20)
"""


def test_tuning_the_heap_returns_freed_tiles_to_the_system():
    """What the engine's worker threads do to glibc's heap, in a fresh process (the
    setting lasts for the process): after a large block raised the mmap threshold, 4 MB
    tiles freed below a live one stay resident by default, and go back with tune_heap."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    retained = {}
    for mode in ("default", "tuned"):
        result = subprocess.run([sys.executable, "-c", HEAP_PROBE, mode], capture_output=True,
                                text=True, check=True)
        retained[mode] = float(result.stdout)
    assert retained["default"] > 150      # MB: the freed tiles kept
    assert retained["tuned"] < 20         # about the one live tile


@pytest.mark.parametrize("dimensions", [3, 32, 128])
def test_eps_at_a_pair_distance_from_the_data_gives_scikit_learns_labels(dimensions):
    """The adaptive ε is one pair's k-distance: a pair sits at exactly ε. ε is taken from
    the exact k-distance curve at several ranks (and its knee), on float32 activations.
    The reference is scikit-learn's ball tree, whose distances are exact float64 sums of
    squares in dimension order (its brute-force path rounds through a matrix product)."""
    rng = np.random.default_rng(dimensions)
    centres = rng.normal(0, 3, (6, dimensions))
    points = (centres[rng.integers(0, 6, 600)] + rng.normal(0, 1, (600, dimensions))
              ).astype(np.float32).astype(np.float64)
    k = 5
    exact = NearestNeighbors(n_neighbors=k, algorithm="ball_tree").fit(points)
    curve = np.sort(exact.kneighbors(points)[0][:, -1])
    ranks = [len(curve) // 10, len(curve) // 2, 9 * len(curve) // 10,
             epsilon.knee_index(curve)]
    epsilons = [float(curve[r]) for r in ranks]
    lens = mapper.l2_lens(points)
    cover = mapper.make_cover(lens, 3, 0.3).members(lens)
    for i, labels in engine.cluster_grid(points, [cover], epsilons, k):
        for e, eps in enumerate(epsilons):
            expected = DBSCAN(eps=eps, min_samples=k, algorithm="ball_tree").fit_predict(
                points[cover[i]])
            np.testing.assert_array_equal(labels[0][e], expected, err_msg=f"ε rank {ranks[e]}")


def test_reduced_precision_matmul_elsewhere_in_the_process_does_not_change_labels():
    """TF32 (CUDA) or bf16 (CPU) float32 matmuls switched on elsewhere: the engine runs its
    distance tiles at full float32 precision meanwhile, and restores the setting."""
    rng = np.random.default_rng(7)
    points = rng.normal(0, 1, (500, 64)).astype(np.float32).astype(np.float64)
    lens = mapper.l2_lens(points)
    cover = mapper.make_cover(lens, 3, 0.3).members(lens)
    matmul = torch.backends.cuda.matmul, torch.backends.mkldnn.matmul
    before = [m.fp32_precision for m in matmul]
    seen = []
    torch.set_float32_matmul_precision("medium")  # TF32 on CUDA, bf16 through oneDNN
    try:
        reduced = [m.fp32_precision for m in matmul]
        assert reduced == ["tf32", "bf16"]
        for i, labels in engine.cluster_grid(
                points, [cover], [9.0], 5,
                cancel=lambda: seen.append(tuple(m.fp32_precision for m in matmul)) or False):
            expected = DBSCAN(eps=9.0, min_samples=5).fit_predict(points[cover[i]])
            np.testing.assert_array_equal(labels[0][0], expected)
        assert set(seen) == {("ieee", "ieee")}
        assert [m.fp32_precision for m in matmul] == reduced
    finally:
        for m, value in zip(matmul, before, strict=True):
            m.fp32_precision = value


def test_float64_squares_add_in_dimension_order():
    """The exact recheck adds squares left to right, as scikit-learn's trees do."""
    rng = np.random.default_rng(3)
    differences = rng.normal(size=(64, 37))
    expected = []
    for row in differences:
        total = 0.0
        for value in row:
            total += value * value
        expected.append(total)
    found = engine.tiles.pair_sqdist(torch.from_numpy(differences), torch.arange(64),
                                     torch.zeros((1, 37), dtype=torch.float64),
                                     torch.zeros(64, dtype=torch.long))
    assert found.tolist() == expected
