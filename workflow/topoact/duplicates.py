"""Exact duplicate rows of a point cloud, found in O(n) extra memory.

The mapper engine clusters each distinct row once, with its multiplicity as weight; the
ε estimate's k-NN search needs at most k copies of a row as neighbours, and none of a
row's copies as queries once it has k of them (its k-distance is 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Duplicates:
    """Distinct rows of a cloud: ``first[k]`` is the first row equal to distinct row k,
    ``inverse[i]`` the distinct row of row i, ``weight[k]`` its multiplicity."""

    first: np.ndarray
    inverse: np.ndarray
    weight: np.ndarray


def find_duplicates(points: np.ndarray, chunk_bytes: int = 8 << 20) -> Duplicates:
    """Exact duplicate rows in O(n) extra memory (no sorted copy of the cloud).

    Rows are hashed to float64 by a fixed random projection (a float64 chunk of
    ``chunk_bytes`` at a time); rows with equal hashes are compared exactly, so equal
    hashes of different rows never merge them.
    """
    n = len(points)
    chunk = max(1, chunk_bytes // (8 * max(points.shape[1], 1)))
    direction = np.random.default_rng(0).standard_normal(points.shape[1])
    hashes = np.concatenate([np.asarray(points[s:s + chunk], np.float64) @ direction
                             for s in range(0, n, chunk)]) if n else np.zeros(0)
    order = np.argsort(hashes, kind="stable")  # equal hashes stay in index order
    inverse = np.arange(n)
    same_hash = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    if len(same_hash):
        # Runs of equal hashes: each member maps to the first earlier row equal to it.
        starts = np.flatnonzero(np.diff(np.concatenate([[-2], same_hash])) > 1)
        for start in starts:
            stop = start
            while stop + 1 < len(same_hash) and same_hash[stop + 1] == same_hash[stop] + 1:
                stop += 1
            rows = order[same_hash[start]:same_hash[stop] + 2]
            for k, row in enumerate(rows[1:], 1):
                for earlier in rows[:k]:
                    if inverse[earlier] == earlier and np.array_equal(points[row], points[earlier]):
                        inverse[row] = earlier
                        break
    first = np.flatnonzero(inverse == np.arange(n))
    position = np.empty(n, dtype=np.int64)
    position[first] = np.arange(len(first))
    inverse = position[inverse]
    return Duplicates(first, inverse, np.bincount(inverse, minlength=len(first)))
