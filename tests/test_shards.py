"""One grid split by intervals into shards and joined back: the same graphs as one pass."""

import numpy as np
import pytest

from topoact import mapper, shards, store
from topoact.steps.mapper import GraphOutput, mapper_grid_for_store
from topoact.steps.shards import gather_for_store, plan_for_store, shard_for_store


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
    # Cuts fall on interval boundaries: a heavy interval can make two shares one shard,
    # and the shard left over gets no intervals.
    assert len(ranges) == count and sum(a == b for a, b in ranges) <= 1
    assert ranges[0][0] == 0 and ranges[-1][1] == intervals
    # Shards read only their rows from the store; overlapping intervals on either side
    # of a cut share rows, which both shards read.
    path = tmp_path / "cloud.zarr"
    _write_cloud(path, points, np.zeros(len(points), np.int16), chunk_bytes=4 << 20)
    partials, read = [], 0
    for start, stop in reversed(ranges):  # any order
        rows = shards.shard_rows(members, start, stop)
        read += len(rows)
        partials.append(shards.cluster_shard(
            store.read_activation_rows(path, rows), rows,
            [cover[start:stop] for cover in members], epsilons, 5, start, stop))
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
                                 shards.shard_rows(members, 0, 3), [members[0][:3]], [0.05],
                                 3, 0, 3)
    with pytest.raises(ValueError, match=r"the shards end at interval 3; the cover has 6"):
        shards.join_shards([first], [cover], lens)
    with pytest.raises(ValueError, match=r"leave intervals \[0, 3\) out or overlap"):
        shards.join_shards([shards.PartialGrid(3, 6)], [cover], lens)
    assert shards.shard_ranges(np.array([0, 0, 5, 0]), 3) == [(0, 3), (3, 4), (4, 4)]
    assert shards.shard_ranges(np.zeros(4), 2) == [(0, 4), (4, 4)]
    with pytest.raises(ValueError, match="mapper.shards must be a positive integer"):
        shards.shard_ranges(np.ones(4), 0)
    path = tmp_path / "cloud.zarr"
    _write_cloud(path, np.arange(20.0).reshape(10, 2), np.zeros(10, np.int16),
                 chunk_bytes=4 << 20)
    np.testing.assert_array_equal(store.read_activation_rows(path, np.array([1, 7])),
                                  [[2.0, 3.0], [14.0, 15.0]])
    for rows in ([7, 1], [3, 3], [10]):
        with pytest.raises(store.StoreError, match=r"rows must be ascending, distinct"):
            store.read_activation_rows(path, np.array(rows))


def _write_cloud(path, points: np.ndarray, labels: np.ndarray, chunk_bytes: int) -> None:
    with store.atomic_group(path, "activations", {"classes": ["a", "b", "c"]}) as group:
        writer = store.ActivationWriter(group, len(points), points.shape[1], chunk_bytes)
        writer.append(points, np.arange(len(points)), np.zeros((len(points), 2)), labels)
        writer.close()


def _outputs(folder, grid: list[tuple[float, float]]) -> list:
    return [GraphOutput(overlap, eps, folder / f"g{k}.zarr", folder / f"g{k}.json",
                        folder / f"g{k}.kmapper.json", {"name": f"g{k}"})
            for k, (overlap, eps) in enumerate(grid)]


@pytest.mark.parametrize("count", [1, 3, 16])
def test_plan_shards_and_gather_write_the_files_of_one_pass(count, tmp_path):
    """The three jobs of ``mapper.shards`` (plan, shards, gather), store to store, write
    the graph stores one pass writes, array for array (node means summed a stored chunk
    at a time equal the one product's bit for bit), and the same JSON files."""
    points = _cloud(count)
    labels = (mapper.l2_lens(points) > np.median(mapper.l2_lens(points))).astype(np.int16)
    cloud = tmp_path / "cloud.zarr"
    _write_cloud(cloud, points, labels + (np.arange(len(points)) % 7 == 0), chunk_bytes=9000)
    grid = [(0.2, 2.5), (0.2, 3.5), (0.5, 3.5)]
    (tmp_path / "one").mkdir()
    (tmp_path / "sharded").mkdir()
    one = mapper_grid_for_store(cloud, _outputs(tmp_path / "one", grid), intervals=12,
                                min_samples=5, cover="exact", progress=False)
    plan = tmp_path / "sharded/plan.zarr"
    ranges = plan_for_store(cloud, plan, intervals=12, overlaps=[0.2, 0.5],
                            cover="exact", shards=count)
    assert len(ranges) == count
    nodes = [tmp_path / f"sharded/shard-{s}.zarr" for s in range(count)]
    for s in reversed(range(count)):
        shard_for_store(cloud, plan, s, nodes[s], epsilons=[2.5, 3.5], min_samples=5)
    joined = gather_for_store(cloud, plan, nodes, _outputs(tmp_path / "sharded", grid),
                              min_samples=5)
    assert [g.params for g in joined] == [g.params for g in one]
    for k in range(len(grid)):
        a, b = (zarr_arrays(tmp_path / side / f"g{k}.zarr") for side in ("one", "sharded"))
        assert a.keys() == b.keys() and len(a["size"]) > 3
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        for suffix in (".json", ".kmapper.json"):
            drop = str(tmp_path / "one"), str(tmp_path / "sharded")
            assert ((tmp_path / "one" / f"g{k}{suffix}").read_text().replace(drop[0], "")
                    == (tmp_path / "sharded" / f"g{k}{suffix}").read_text().replace(drop[1], ""))


def zarr_arrays(path) -> dict[str, np.ndarray]:
    return store.read_arrays(path, "mapper")[0]


def test_a_gather_refuses_shards_of_another_grid(tmp_path):
    points = _cloud(4)
    cloud = tmp_path / "cloud.zarr"
    _write_cloud(cloud, points, np.zeros(len(points), np.int16), chunk_bytes=1 << 20)
    plan = tmp_path / "plan.zarr"
    plan_for_store(cloud, plan, intervals=8, overlaps=[0.3], cover="kmapper", shards=2)
    nodes = [tmp_path / "s0.zarr", tmp_path / "s1.zarr"]
    shard_for_store(cloud, plan, 0, nodes[0], epsilons=[3.0], min_samples=5)
    shard_for_store(cloud, plan, 1, nodes[1], epsilons=[2.0], min_samples=5)
    with pytest.raises(ValueError, match=r"s1.zarr: clustered with ε \[2.0\] .*expects ε \[3.0\]"):
        gather_for_store(cloud, plan, nodes, _outputs(tmp_path, [(0.3, 3.0)]),
                         min_samples=5)
    with pytest.raises(ValueError, match=r"no shard 2; the plan has 2 \(0 to 1\)"):
        shard_for_store(cloud, plan, 2, tmp_path / "s2.zarr", epsilons=[3.0],
                        min_samples=5)
    shard_for_store(cloud, plan, 1, nodes[1], epsilons=[3.0], min_samples=5)
    with pytest.raises(ValueError, match=r"overlap 0.5, ε 3.0\) is not in the shards' grid"):
        gather_for_store(cloud, plan, nodes, _outputs(tmp_path, [(0.5, 3.0)]),
                         min_samples=5)
    bad = points.copy()
    bad[[5, 9], 1] = np.nan
    _write_cloud(tmp_path / "bad.zarr", bad, np.zeros(len(bad), np.int16), chunk_bytes=1 << 20)
    with pytest.raises(ValueError, match=r"bad.zarr: the points' ℓ2 norms .*first rows: \[5, 9\]"):
        plan_for_store(tmp_path / "bad.zarr", tmp_path / "p.zarr", intervals=8,
                       overlaps=[0.3], cover="exact", shards=2)
