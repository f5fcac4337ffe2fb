"""Checks of a cloud's values before a stage computes on them (no files, no torch)."""

from __future__ import annotations

import numpy as np


def check_finite(points: np.ndarray, name: str = "points", chunk: int = 65536) -> None:
    """Reject NaN/inf with a message saying how many and where.

    Checked in chunks of rows, so a large cloud needs no full-size boolean copy.

    Parameters
    ----------
    points
        An array of rows (any trailing shape).
    name
        What the rows are, for the message: a file's path and what it holds, where known.
    chunk
        Rows checked at a time.

    Raises
    ------
    ValueError
        Naming the count of non-finite values, the rows holding them, and the first rows.
    """
    bad_rows, bad_values = [], 0
    for start in range(0, len(points), chunk):
        finite = np.isfinite(points[start:start + chunk])
        if not finite.all():
            bad_values += int((~finite).sum())
            bad_rows.append(np.flatnonzero(~finite.reshape(len(finite), -1).all(axis=1)) + start)
    if not bad_values:
        return
    bad_rows = np.concatenate(bad_rows)
    raise ValueError(f"{name} contain {bad_values} NaN/inf value(s) in "
                     f"{len(bad_rows)} of {len(points)} rows (first rows: "
                     f"{bad_rows[:5].tolist()})")
