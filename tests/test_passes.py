"""The shared-pass cache (topoact.passes) on its own: what makes an entry valid, what a
copy takes, and what happens where ``flock`` does not hold between nodes."""

from __future__ import annotations

import errno
import fcntl
import json
import os

import numpy as np
import pytest

from topoact import files, passes, store


def write_cache(cache, source, entries: dict) -> None:
    """A layer pass as a job leaves it: each entry's file, then the index."""
    cache.mkdir(parents=True, exist_ok=True)
    for name in entries:
        (cache / f"{name}.json").write_text(json.dumps({"graph": name}))
    passes.write_index(cache, source, entries)


@pytest.fixture
def cloud(tmp_path):
    path = tmp_path / "cloud.zarr"
    store.write_arrays(path, "activations", {"points": np.ones((4, 2), np.float32)}, {})
    return path


def test_an_entry_is_copied_only_from_a_pass_of_this_very_source(tmp_path, cloud):
    cache = tmp_path / "cache"
    source = passes.cloud_source(cloud)
    entry = passes.graph_entry(0.3, 4.0, 70, 5, "exact")
    write_cache(cache, source, {"overlap-30": entry})
    target = tmp_path / "out" / "graph.json"
    assert passes.copy_from_pass(cache, source, "overlap-30", entry, {".json": target})
    assert json.loads(target.read_text()) == {"graph": "overlap-30"}
    # Another entry (a changed ε), another name, or no cache: nothing copied.
    other = passes.graph_entry(0.3, 4.5, 70, 5, "exact")
    for name, wanted in (("overlap-30", other), ("overlap-50", entry)):
        fresh = tmp_path / "fresh.json"
        assert not passes.copy_from_pass(cache, source, name, wanted, {".json": fresh})
        assert not fresh.exists()
    assert passes.pass_index(tmp_path / "none", source) is None


def test_a_rewritten_cloud_or_an_older_cache_version_reads_as_no_pass(tmp_path, cloud,
                                                                       monkeypatch):
    cache = tmp_path / "cache"
    source = passes.cloud_source(cloud)
    write_cache(cache, source, {"g": {"eps": 1.0}})
    assert passes.pass_entry(passes.pass_index(cache, source), "g") == {"eps": 1.0}
    # The same path written again (same values): its identity changes, the pass is stale.
    store.write_arrays(cloud, "activations", {"points": np.ones((4, 2), np.float32)}, {})
    rewritten = passes.cloud_source(cloud)
    assert rewritten["identity"] != source["identity"]
    assert passes.pass_index(cache, rewritten) is None
    monkeypatch.setattr(passes, "CACHE_VERSION", passes.CACHE_VERSION + 1)
    assert passes.pass_index(cache, source) is None


def test_clearing_a_cache_removes_the_index_first_and_keeps_the_lock(tmp_path, cloud):
    cache = tmp_path / "cache"
    source = passes.cloud_source(cloud)
    write_cache(cache, source, {"g": {"eps": 1.0}})
    (cache / "g.zarr").mkdir()
    with passes.layer_lock(cache):
        pass
    removed = []
    real_unlink = os.unlink

    def record(path, *args, **kwargs):
        removed.append(os.path.basename(path))
        return real_unlink(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "unlink", record)
        passes.clear_layer_cache(cache)
    assert removed[0] == "index.json"  # a cut-short clear leaves no valid-looking entry
    assert sorted(p.name for p in cache.iterdir()) == ["lock"]


def test_without_a_shared_lock_a_job_never_copies_a_stale_or_half_written_entry(
        tmp_path, cloud, monkeypatch):
    """Two nodes whose file system does not share ``flock``: both hold "the" lock at
    once. Job B looks while job A rebuilds the pass: A has cleared the index and written
    some files but not the new index. B finds no valid entry and computes its own; once
    A's index is written, B's next look copies A's entry, never the cleared one."""
    monkeypatch.setattr(fcntl, "flock", lambda handle, operation: None)  # no exclusion
    cache = tmp_path / "cache"
    source = passes.cloud_source(cloud)
    old = passes.graph_entry(0.3, 4.0, 70, 5, "exact")
    write_cache(cache, source, {"g": old})
    new = passes.graph_entry(0.3, 4.5, 70, 5, "exact")
    target = tmp_path / "b.json"
    with passes.layer_lock(cache):  # job A, mid-rebuild
        passes.clear_layer_cache(cache)
        (cache / "g.json").write_text(json.dumps({"graph": "half"}))
        with passes.layer_lock(cache):  # job B gets in: not excluded
            assert not passes.copy_from_pass(cache, source, "g", old, {".json": target})
            assert not passes.copy_from_pass(cache, source, "g", new, {".json": target})
        (cache / "g.json").write_text(json.dumps({"graph": "g"}))
        passes.write_index(cache, source, {"g": new})
    assert not target.exists()
    assert passes.copy_from_pass(cache, source, "g", new, {".json": target})
    assert not passes.copy_from_pass(cache, source, "g", old, {".json": tmp_path / "c.json"})


def test_a_file_system_that_refuses_locks_lets_jobs_go_on(tmp_path, monkeypatch):
    def refuse(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    with files.locked(tmp_path / "cache" / "lock"):
        (tmp_path / "cache" / "inside").write_text("ran")
    assert (tmp_path / "cache" / "inside").read_text() == "ran"
