"""One grid split by intervals into shards and joined back: the same graphs as one pass."""

import numpy as np
import pytest

from topoact import mapper, shards, store


def _cloud(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (6, 8))
    points = centres[rng.integers(0, 6, 1500)] + rng.normal(0, 1, (1500, 8))
    return np.concatenate([points, points[:40]]).astype(np.float32)  # duplicates too


@pytest.mark.parametrize(("seed", "count", "cover"), [(0, 1, "exact"), (1, 2, "kmapper"),
                                                      (2, 3, "balanced"), (3, 7, "exact")])
def test_sharded_grids_equal_one_pass(seed, count, cover, tmp_path):
    points = _cloud(seed)
    lens = mapper.l2_lens(points)
    overlaps, epsilons, intervals = [0.2, 0.5], [2.5, 3.5], 12
    single = mapper.build_mapper_grid(points, intervals, overlaps, epsilons, 5, cover)
    covers = [mapper.make_cover(lens, intervals, p, cover) for p in overlaps]
    members = [c.members(lens) for c in covers]
    ranges = shards.shard_ranges(covers[-1].sizes(lens), count)
    # Cuts fall on interval boundaries: a heavy interval can make two shares one shard.
    assert count - 1 <= len(ranges) <= count
    assert ranges[0][0] == 0 and ranges[-1][1] == intervals
    # Shards read only their rows from the store; overlapping intervals on either side
    # of a cut share rows, which both shards read.
    path = tmp_path / "cloud.zarr"
    with store.atomic_group(path, "activations", {}) as group:
        writer = store.ActivationWriter(group, len(points), points.shape[1])
        writer.append(points, np.arange(len(points)), np.zeros((len(points), 2)),
                      np.zeros(len(points), np.int16))
        writer.close()
    partials, read = [], 0
    for start, stop in reversed(ranges):  # any order
        rows = shards.shard_rows(members, start, stop)
        read += len(rows)
        partials.append(shards.cluster_shard(store.read_activation_rows(path, rows), rows,
                                             members, epsilons, 5, start, stop))
    joined = shards.join_shards(partials, covers, lens)
    assert read >= len(points) if count > 1 else read == len(points)
    for p, overlap in enumerate(overlaps):
        for e, eps in enumerate(epsilons):
            one, other = single[overlap, eps], joined[p, e]
            assert one.n_nodes > 3
            for name in ("indptr", "indices", "interval", "edges", "intersection", "jaccard"):
                np.testing.assert_array_equal(getattr(other, name), getattr(one, name), name)


def test_shards_must_tile_the_cover(tmp_path):
    lens = np.linspace(0, 1, 200)
    cover = mapper.make_cover(lens, 6, 0.3)
    members = [cover.members(lens)]
    first = shards.cluster_shard(np.c_[lens, lens][shards.shard_rows(members, 0, 3)],
                                 shards.shard_rows(members, 0, 3), members, [0.05], 3, 0, 3)
    with pytest.raises(ValueError, match=r"the shards end at interval 3; the cover has 6"):
        shards.join_shards([first], [cover], lens)
    with pytest.raises(ValueError, match=r"leave intervals \[0, 3\) out or overlap"):
        shards.join_shards([shards.PartialGrid(3, 6)], [cover], lens)
    assert shards.shard_ranges(np.array([0, 0, 5, 0]), 3) == [(0, 3), (3, 4)]
    with pytest.raises(ValueError, match="mapper.shards must be a positive integer"):
        shards.shard_ranges(np.ones(4), 0)
    path = tmp_path / "cloud.zarr"
    with store.atomic_group(path, "activations", {}) as group:
        writer = store.ActivationWriter(group, 10, 2)
        writer.append(np.arange(20.0).reshape(10, 2), np.arange(10), np.zeros((10, 2)),
                      np.zeros(10, np.int16))
        writer.close()
    np.testing.assert_array_equal(store.read_activation_rows(path, np.array([1, 7])),
                                  [[2.0, 3.0], [14.0, 15.0]])
    for rows in ([7, 1], [3, 3], [10]):
        with pytest.raises(store.StoreError, match=r"rows must be ascending, distinct"):
            store.read_activation_rows(path, np.array(rows))
