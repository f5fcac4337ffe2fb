"""Memory tuning: the tile size for a memory budget, and glibc's heap (opt-in).

Under glibc, the worker threads' heaps keep the high-water mark of every tile unless
large blocks are served by mmap and the heaps are trimmed between stages. That changes
the allocator for the whole process, so it is the caller's choice: the workflow's
mapper scripts and the benchmarks call :func:`tune_heap`; the library does not.
``bench/RESULTS.md`` ("Heap growth") has the measurements.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import torch

from topoact.engine import tiles

#: Whether the engine trims the heaps between the stages of an interval (set by tune_heap).
_trim_between_stages = False


@functools.cache
def _glibc():
    """The C library where it is glibc (mallopt and malloc_trim are glibc's), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def bound_heap_growth(threshold: int | None = None) -> bool:
    """Make glibc serve every allocation of ``threshold`` bytes or more by mmap (returned
    to the system when freed), for the rest of the process.

    By default glibc raises that threshold, up to 32 MB, each time such a block is
    freed; after that, tiles and index arrays come from per-thread heaps that fragment
    and do not shrink. The default threshold keeps a row slab's float32 distances
    (``tiles.SLAB_PAIRS`` × 4 bytes), allocated for every slab, in the heap, where it is
    reused without page faults.

    Returns
    -------
    bool
        Whether the setting was made (False where the C library is not glibc).
    """
    libc = _glibc()
    threshold = threshold if threshold is not None else tiles.SLAB_PAIRS * 4 + 4096
    m_mmap_threshold = -3  # from glibc's malloc.h
    return bool(libc and libc.mallopt(m_mmap_threshold, int(threshold)))


def limit_arenas(count: int = 2) -> bool:
    """Let glibc keep at most ``count`` heaps (arenas) for all threads, for the rest of
    the process. A long-lived server runs builds on ever-new pool threads, each of
    which would otherwise get a heap of its own holding its peak (the live server's
    load test in bench/RESULTS.md: less growth with two arenas, at no cost in build
    time).

    Returns
    -------
    bool
        Whether the setting was made (False where the C library is not glibc).
    """
    libc = _glibc()
    m_arena_max = -8  # from glibc's malloc.h
    return bool(libc and libc.mallopt(m_arena_max, int(count)))


def release_free_heap() -> None:
    """Give the heaps' free pages back to the system (glibc's malloc_trim; elsewhere
    nothing). Each worker thread has its own heap, so pages one worker freed would
    otherwise stay resident while the other is at its peak."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


def tune_heap() -> bool:
    """Opt in, for this process: :func:`bound_heap_growth`, and a
    :func:`release_free_heap` between the stages of every interval the engine clusters.

    Returns
    -------
    bool
        Whether the C library is glibc (elsewhere nothing changes).
    """
    global _trim_between_stages
    _trim_between_stages = bound_heap_growth()
    return _trim_between_stages


def trim_between_stages() -> None:
    """:func:`release_free_heap`, where :func:`tune_heap` asked for it."""
    if _trim_between_stages:
        release_free_heap()


def resolve_tile(dimensions: int, device: torch.device, memory_mb: float = 1024) -> int:
    """Largest power-of-two tile whose working set stays well inside ``memory_mb``.

    A tile holds a float32 distance block, masks, at worst all its pairs as union–find
    edges, and two gathered ``tile × D`` blocks; a quarter of the budget is allowed
    (:func:`tile_working_set`).
    """
    tile = 256
    while tile < 8192:
        bigger = tile * 2
        if tile_working_set(bigger, dimensions) > memory_mb * 2**20 / 4:
            break
        tile = bigger
    return tile


def tile_working_set(tile: int, dimensions: int) -> int:
    """Bytes of one tile's working set: float32 distances, masks, and at worst every pair
    of the tile as an int64 edge (24 bytes per pair), plus two gathered ``tile × D``
    float32 blocks."""
    return tile * tile * 24 + 2 * tile * dimensions * 4
