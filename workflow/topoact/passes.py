"""A layer's shared pass (``mapper.jobs: shared``): the first job of a (sampling, layer) to
need a result computes the results of every graph of the layer into a cache folder, and
the layer's other jobs copy theirs from it.

The mapper's graphs (:func:`topoact.steps.mapper.shared_grid_graph`) and their stability
(:func:`topoact.steps.stability.shared_graph_stability`) share this cache logic. The module
uses the standard library only: a job whose files are in the cache imports it and copies
them (:func:`copy_from_pass`) without loading the engine, pandas or matplotlib, which are
most of such a job's time otherwise.

Entries are validated before use: an entry is copied only when the pass read this very
source (path, size, modification time and inode of its root file) and holds the entry
the job expects (its parameters, or its graph store's identity). The lock is ``flock``
on a file in the cache: where a file system does not share ``flock`` between nodes,
jobs of one layer running at once on two nodes may both compute the pass (or one may
fail on the other's half-written files, and be retried); neither copies a stale entry
(tests/test_passes.py plays that out). The lock is :func:`topoact.files.locked` rather
than ``filelock``: filelock (4.x) polls instead of waiting, and on a file system that
refuses locks (``ENOLCK``, an NFS mount without a lock daemon) raises, where these jobs
go on without the lock and rely on the validation above.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from topoact.files import copy_output, locked, read_json, write_json

#: Bumped when what a cache holds per graph changes: older caches then read as empty.
CACHE_VERSION = 2


def source_identity(path) -> list[int]:
    """Size, modification time (ns) and inode of a cloud's file, or of a zarr store's root
    metadata: what changes whenever the cloud is written again."""
    path = Path(path)
    stat = (path / "zarr.json" if path.is_dir() else path).stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def cloud_source(points_path) -> dict[str, Any]:
    """What a layer's mapper pass was made from: the cloud's path and identity."""
    return {"source": str(points_path), "identity": source_identity(points_path)}


def graph_entry(overlap: float, eps: float, intervals: int, min_samples: int, cover: str,
                report: bool = False) -> dict[str, Any]:
    """A mapper graph's entry in its layer's pass: its parameters (overlap as a fraction),
    and whether the pass wrote its report files (purity table and figure) too."""
    return {"intervals": int(intervals), "overlap": float(overlap), "eps": float(eps),
            "min_samples": int(min_samples), "cover": cover, "lens": "l2",
            "report": bool(report)}


def stability_source(points_path, bootstrap: int, confidence: float, seed: int
                     ) -> dict[str, Any]:
    """What a layer's stability pass was made from: the cloud and the bootstrap's settings."""
    return {**cloud_source(points_path), "settings": {
        "bootstrap": int(bootstrap), "confidence": float(confidence), "seed": int(seed)}}


def stability_entry(graph_path, meta: dict[str, Any]) -> dict[str, Any]:
    """A graph's entry in its layer's stability pass: the graph store it read (path and
    identity, taken before reading: a store replaced meanwhile reads as stale) and its
    record's meta."""
    return {"graph": str(graph_path), "identity": source_identity(graph_path), "meta": meta}


def layer_lock(directory):
    """The exclusive lock of a layer's shared pass, so that the jobs of one layer take
    turns. Where the file system refuses locks, jobs go on without: entries are
    validated before use, so jobs of one layer running at once may build the pass twice,
    or fail on each other's files, but never copy a stale entry."""
    return locked(Path(directory) / "lock")


def pass_index(cache: Path, source: dict[str, Any]) -> dict[str, Any] | None:
    """A layer pass's index, when that pass was made from ``source`` (each of its keys
    equal in the index) by this version of the cache; None otherwise or when there is
    none."""
    index_path = Path(cache) / "index.json"
    index = read_json(index_path) if index_path.exists() else {}
    wanted = {**source, "version": CACHE_VERSION}
    return index if {key: index.get(key) for key in wanted} == wanted else None


def write_index(cache: Path, source: dict[str, Any], entries: dict[str, Any]) -> None:
    """Write a layer pass's index: its source, this cache version and its entries."""
    write_json(Path(cache) / "index.json",
               {**source, "version": CACHE_VERSION, "graphs": entries}, indent=1)


def pass_entry(index: dict[str, Any] | None, name: str) -> Any:
    """The entry named ``name`` in a layer pass's index (from :func:`pass_index`); None
    when there is no index or no such entry."""
    return None if index is None else index["graphs"].get(name)


def clear_layer_cache(cache: Path) -> None:
    """Empty a layer's pass cache but for its lock file, the index first: a pass cut short
    leaves no entry that reads as valid."""
    cache = Path(cache)
    (cache / "index.json").unlink(missing_ok=True)
    for old in cache.iterdir():
        if old.name != "lock":
            shutil.rmtree(old) if old.is_dir() else old.unlink()


def copy_from_pass(cache, source: dict[str, Any], name: str, entry: Any,
                   files: dict[str, Any]) -> bool:
    """Copy graph ``name``'s files from a layer's pass cache into place, when the cache
    was made from ``source`` and holds ``entry`` for it.

    Parameters
    ----------
    cache
        The layer's cache folder.
    source, entry
        What the cache's index and the graph's entry in it must be.
    files
        Suffix in the cache (``{name}{suffix}``) → the job's output path.

    Returns
    -------
    bool
        True when every file was copied; False (nothing copied) when the cache lacks the
        entry, which the job's pass then computes.
    """
    cache = Path(cache)
    with layer_lock(cache):
        if pass_entry(pass_index(cache, source), name) != entry:
            return False
        for suffix, target in files.items():
            copy_output(cache / f"{name}{suffix}", target)
    return True
