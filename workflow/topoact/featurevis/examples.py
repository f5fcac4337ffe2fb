"""The data examples of a layer's graphs (TopoAct's data example view): which points each
node shows, and the files their images are written to. numpy only: the selection job
does not load torch."""

from __future__ import annotations

import numpy as np


def select_examples(members: np.ndarray, labels: np.ndarray, points: np.ndarray,
                    centre: np.ndarray, top_classes: list[int], per_class: int = 5
                    ) -> dict[int, list[int]]:
    """Data examples of a node: up to ``per_class`` members of each top class.

    The members of a class closest to the node's mean activation are chosen (the most
    representative ones), ties broken by point index, so the choice is deterministic.

    Returns
    -------
    dict
        class index → point indices, in the order of ``top_classes``.
    """
    members = np.asarray(members)
    chosen: dict[int, list[int]] = {}
    member_labels = labels[members]
    for cls in top_classes:
        of_class = members[member_labels == cls]
        distance = np.linalg.norm(points[of_class] - centre, axis=1)
        order = np.lexsort((of_class, distance))[:per_class]
        chosen[int(cls)] = [int(i) for i in of_class[order]]
    return chosen


def example_file_names(image: int, row: int, col: int) -> tuple[str, str]:
    """File names of a data example: its activation image and its input thumbnail."""
    return f"activation-{image}-{row}-{col}.png", f"image-{image}.png"
