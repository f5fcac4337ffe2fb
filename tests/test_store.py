"""zarr stores: round trips with attributes, atomic completion, chunked writing, clear errors."""

import numpy as np
import pytest
import zarr

from topoact import store


def _write_cloud(path, points, batches, chunk_bytes=1 << 20, attrs=None):
    n, c = points.shape
    with store.atomic_group(path, "activations", attrs or {}) as group:
        writer = store.ActivationWriter(group, n, c, chunk_bytes)
        start = 0
        for size in batches:
            rows = slice(start, start + size)
            index = np.arange(start, start + size)
            writer.append(points[rows], index.astype(np.int32),
                          np.stack([index % 7, index % 5], 1).astype(np.int16),
                          (index % 10).astype(np.int16))
            start += size
        writer.close()


def test_activation_round_trip_with_attributes(tmp_path, rng):
    points = rng.normal(size=(1000, 300)).astype(np.float32)
    attrs = store.provenance({"sampling": "full", "layer": "conv3"}, {"images": "x.zarr"}, 7)
    # Odd batch sizes across chunk boundaries (one chunk = 874 rows of 300 float32).
    _write_cloud(tmp_path / "a.zarr", points, [1, 333, 600, 66], attrs=attrs)
    cloud = store.read_activations(tmp_path / "a.zarr")
    np.testing.assert_array_equal(cloud.points, points)
    np.testing.assert_array_equal(cloud.image, np.arange(1000))
    np.testing.assert_array_equal(cloud.position[:, 0], np.arange(1000) % 7)
    np.testing.assert_array_equal(cloud.label, np.arange(1000) % 10)
    assert cloud.attrs["params"] == {"sampling": "full", "layer": "conv3"}
    assert cloud.attrs["sources"] == {"images": "x.zarr"}
    assert cloud.attrs["seed"] == 7
    assert cloud.attrs["complete"] is True and cloud.attrs["kind"] == "activations"
    assert cloud.attrs["topoact_version"]


def test_points_are_chunked_along_rows_in_at_least_one_megabyte(tmp_path, rng):
    points = rng.normal(size=(5000, 64)).astype(np.float32)
    _write_cloud(tmp_path / "a.zarr", points, [5000], chunk_bytes=1 << 20)
    group = store.open_store(tmp_path / "a.zarr", "activations")
    rows, cols = group["points"].chunks
    assert cols == 64 and rows * 64 * 4 >= 1 << 20
    assert group["points"].dtype == np.float32 and group["image"].dtype == np.int32
    assert group["position"].dtype == np.int16 and group["label"].dtype == np.int16


def test_failed_write_leaves_neither_store_nor_partial(tmp_path, rng):
    path = tmp_path / "a.zarr"
    points = rng.normal(size=(100, 8)).astype(np.float32)
    with pytest.raises(RuntimeError, match="boom"):
        with store.atomic_group(path, "activations", {}) as group:
            writer = store.ActivationWriter(group, 100, 8)
            writer.append(points[:50], np.arange(50), np.zeros((50, 2)), np.zeros(50))
            assert store.partial_path(path).exists() and not path.exists()
            raise RuntimeError("boom")
    assert not path.exists() and not store.partial_path(path).exists()


def test_short_write_is_an_error_not_a_complete_store(tmp_path, rng):
    path = tmp_path / "a.zarr"
    with pytest.raises(store.StoreError, match="50 points written, 100 announced"):
        with store.atomic_group(path, "activations", {}) as group:
            writer = store.ActivationWriter(group, 100, 8)
            writer.append(rng.normal(size=(50, 8)), np.arange(50), np.zeros((50, 2)),
                          np.zeros(50))
            writer.close()
    assert not path.exists()


def test_leftover_partial_from_a_killed_job_is_replaced(tmp_path, rng):
    path = tmp_path / "a.zarr"
    leftover = store.partial_path(path)
    leftover.mkdir()
    (leftover / "junk").write_text("half-written")
    points = rng.normal(size=(10, 4)).astype(np.float32)
    _write_cloud(path, points, [10])
    assert not leftover.exists()
    np.testing.assert_array_equal(store.read_activations(path).points, points)


def test_open_store_errors_name_the_path_and_the_problem(tmp_path, rng):
    with pytest.raises(store.StoreError, match="no such store"):
        store.open_store(tmp_path / "missing.zarr", "activations")
    _write_cloud(tmp_path / "a.zarr", rng.normal(size=(10, 4)).astype(np.float32), [10])
    with pytest.raises(store.StoreError, match="holds kind 'activations', expected 'images'"):
        store.open_store(tmp_path / "a.zarr", "images")

    unfinished = zarr.open_group(tmp_path / "b.zarr", mode="w")
    unfinished.attrs.update({"kind": "activations", "complete": False})
    with pytest.raises(store.StoreError, match=r"b\.zarr: store was not completed"):
        store.open_store(tmp_path / "b.zarr", "activations")


def test_images_round_trip(tmp_path, rng):
    images = rng.integers(0, 256, size=(30, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, size=30)
    batches = ((images[i:i + 7], labels[i:i + 7]) for i in range(0, 30, 7))
    store.write_images(tmp_path / "d.zarr", batches, count=30, image_shape=(8, 8, 3),
                       classes=["a", "b", "c"], splits={"train": (0, 20), "test": (20, 30)},
                       source="test", attrs=store.provenance({}, {}, None))
    group = store.open_store(tmp_path / "d.zarr", "images")
    np.testing.assert_array_equal(group["images"][:], images)
    np.testing.assert_array_equal(group["labels"][:], labels)
    info = store.image_store_info(group)
    assert info.classes == ["a", "b", "c"] and info.splits == {"train": (0, 20), "test": (20, 30)}
    assert store.split_range(info, "test") == (20, 30)
    assert store.split_range(info, "all") == (0, 30)
    with pytest.raises(store.StoreError, match=r"no split 'val'.*\['all', 'test', 'train'\]"):
        store.split_range(info, "val")


def test_images_count_mismatch_is_reported(tmp_path):
    batches = [(np.zeros((5, 4, 4, 3), np.uint8), np.zeros(5))]
    with pytest.raises(store.StoreError, match="yielded 5 images, announced 6"):
        store.write_images(tmp_path / "d.zarr", batches, count=6, image_shape=(4, 4, 3),
                           classes=["a"], splits={"all": (0, 6)}, source="t", attrs={})
    assert not (tmp_path / "d.zarr").exists()


def test_atomic_file_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "table.tsv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"):
        with store.atomic_file(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "old\n" and not store.partial_path(path).exists()
    with store.atomic_file(path) as tmp:
        tmp.write_text("new\n")
    assert path.read_text() == "new\n"
