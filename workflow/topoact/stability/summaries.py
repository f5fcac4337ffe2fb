"""A stability result as the workflow records it: feature rows and table, the JSON
record, and one summary row per graph of a run."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from topoact.stability.bootstrap import Stability
from topoact.stability.persistence import KINDS


def feature_rows(result: Stability) -> list[dict[str, Any]]:
    """One row per feature: kind, birth, death, persistence, confidence, significant,
    its nodes."""
    d = result.diagram
    return [{"kind": KINDS[d.kind[i]], "birth": float(d.birth[i]), "death": float(d.death[i]),
             "persistence": float(d.persistence[i]), "confidence": float(result.confidence[i]),
             "significant": bool(result.significant[i]), "nodes": d.nodes[i].tolist()}
            for i in range(len(d))]


def stability_record(result: Stability, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON record of one graph's stability (what the explorer and summaries read)."""
    rows = feature_rows(result)
    counts = {kind: sum(r["significant"] for r in rows if r["kind"] == kind) for kind in KINDS}
    return {**(meta or {}), **result.params,
            "d_alpha": None if math.isnan(result.d_alpha) else result.d_alpha,
            "distances": result.distances.tolist(), "features": rows,
            "significant": counts, "n_features": len(rows)}


def feature_table(result: Stability) -> pd.DataFrame:
    """The features TSV: kind, birth, death, persistence, confidence, significant and the
    number of nodes of each (the node lists are in the JSON record)."""
    rows = [{**row, "nodes": len(row["nodes"])} for row in feature_rows(result)]
    return pd.DataFrame(rows, columns=["kind", "birth", "death", "persistence", "confidence",
                                       "significant", "nodes"])


def summary_table(records: list[dict[str, Any]], distances: pd.DataFrame) -> pd.DataFrame:
    """One row per graph: where it sits, its size, d_α, significant features by kind, and
    its mean bottleneck distance and membership similarity to the other graphs of its
    layer's grid (``distances``: rows of sampling, layer, a, b, bottleneck, similarity)."""
    rows = []
    for record in records:
        row = {key: record.get(key) for key in ("dataset", "model", "seed", "sampling",
                                                 "layer", "parameters", "nodes", "edges",
                                                 "bootstrap", "bootstrap_seed", "confidence",
                                                 "d_alpha")}
        row["features"] = record["n_features"]
        for kind in KINDS:
            row[f"significant_{kind.replace(' ', '_')}"] = record["significant"][kind]
        mine = distances[(distances["sampling"] == record["sampling"])
                         & (distances["layer"] == record["layer"])
                         & ((distances["a"] == record["parameters"])
                            | (distances["b"] == record["parameters"]))]
        row["mean_bottleneck_to_grid"] = mine["bottleneck"].mean() if len(mine) else np.nan
        row["mean_similarity_to_grid"] = mine["similarity"].mean() if len(mine) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
