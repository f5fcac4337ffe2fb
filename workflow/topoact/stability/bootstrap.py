"""The bootstrap of a graph's diagram: B resampled clouds rebuilt with the same cover
and DBSCAN settings, their bottleneck distances to the original, and each feature's
confidence and significance at α."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from topoact.graph import DEFAULT_ENGINE, EngineOptions, MapperGraph
from topoact.mapper import resampled_graphs
from topoact.stability.persistence import Diagram, bottleneck, graph_diagram


def distance_at_confidence(distances: np.ndarray, confidence: float) -> float:
    """d_α: the sorted distances' element ⌊αB⌋ (gudhi's ``CoverComplex`` rule)."""
    _check_confidence(confidence)
    ordered = np.sort(np.asarray(distances, dtype=np.float64))
    if len(ordered) == 0:
        return math.nan
    return float(ordered[min(math.floor(confidence * len(ordered)), len(ordered) - 1)])


def confidence_at_distance(distances: np.ndarray, distance: float) -> float:
    """The share of bootstrap distances below ``distance`` (gudhi's ``CoverComplex``
    rule): a feature of half persistence h is significant at α exactly when its
    confidence exceeds α, ties at d_α included."""
    distances = np.asarray(distances, dtype=np.float64)
    return float((distances < distance).mean()) if len(distances) else math.nan


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"stability confidence α must be in (0, 1), got {confidence!r}")


def check_bootstrap(bootstrap: int) -> None:
    """B must be a positive integer."""
    if int(bootstrap) != bootstrap or bootstrap < 1:
        raise ValueError(f"stability bootstrap B must be a positive integer, got {bootstrap!r}")


def resamples(n_points: int, bootstrap: int, seed: int = 0) -> list[np.ndarray]:
    """B draws of n of the n points with replacement (seeded), each in index order."""
    rng = np.random.default_rng(seed)
    return [np.sort(rng.integers(0, n_points, size=n_points)) for _ in range(bootstrap)]


def bootstrap_distances(graph: MapperGraph, points: np.ndarray, bootstrap: int,
                        seed: int = 0, original: Diagram | None = None, batch: int = 50, *,
                        engine: EngineOptions = DEFAULT_ENGINE) -> np.ndarray:
    """Bottleneck distances from the graphs of B resamples to the original's diagram.

    Each resample draws N of the N points with replacement (kept in index order, so
    DBSCAN's border rule sees them in the original order) with their lens values; its
    graph is :func:`topoact.mapper.rebuild`'s, built ``batch`` resamples per engine pass
    (:func:`topoact.mapper.resampled_graphs`). ``engine.progress`` shows a bar over the
    resamples (the engine's own bar is left off).
    """
    check_bootstrap(bootstrap)
    points = np.asarray(points)
    if len(points) != graph.n_points:
        raise ValueError(f"{len(points)} points, but the graph was built on {graph.n_points}")
    original = original if original is not None else graph_diagram(graph)
    samples = resamples(len(points), bootstrap, seed)
    distances = []
    quiet = replace(engine, progress=False)
    with tqdm(total=bootstrap, desc="bootstrap", unit="graph",
              disable=not engine.progress) as bar:
        for start in range(0, bootstrap, batch):
            for rebuilt in resampled_graphs(graph, points, samples[start:start + batch],
                                            engine=quiet):
                distances.append(bottleneck(original, graph_diagram(rebuilt)))
                bar.update()
    return np.array(distances)


@dataclass
class Stability:
    """A graph's extended diagram with its bootstrap confidence.

    ``significant[i]`` and ``confidence[i]`` belong to feature i of ``diagram``.
    """

    diagram: Diagram
    distances: np.ndarray
    level: float
    d_alpha: float
    significant: np.ndarray
    confidence: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


def graph_stability(graph: MapperGraph, points: np.ndarray, bootstrap: int = 100,
                    confidence: float = 0.9, seed: int = 0, *,
                    engine: EngineOptions = DEFAULT_ENGINE) -> Stability:
    """Extended diagram, bootstrap distances, d_α and each feature's significance.

    Parameters
    ----------
    graph
        The mapper graph (its cover, ε, min_samples and lens are reused).
    points
        The cloud it was built on.
    bootstrap
        Resamples B (≥ 1).
    confidence
        α in (0, 1).
    seed
        Seed of the resampling.
    engine
        How the engine runs the resamples (:class:`~topoact.graph.EngineOptions`).

    Returns
    -------
    Stability
        A graph with no nodes gets an empty diagram and no bootstrap (d_α NaN).
    """
    check_bootstrap(bootstrap)
    _check_confidence(confidence)
    diagram = graph_diagram(graph, representatives=True)
    # bootstrap_seed, not seed: a record's ``seed`` is the model's (its meta).
    params = {"bootstrap": int(bootstrap), "confidence": float(confidence),
              "bootstrap_seed": int(seed)}
    if graph.n_nodes == 0:
        return Stability(diagram, np.zeros(0), confidence, math.nan, np.zeros(0, bool),
                         np.zeros(0), params)
    distances = bootstrap_distances(graph, points, bootstrap, seed, diagram, engine=engine)
    d_alpha = distance_at_confidence(distances, confidence)
    half = diagram.persistence / 2
    return Stability(diagram, distances, confidence, d_alpha, half > d_alpha,
                     np.array([confidence_at_distance(distances, h) for h in half]), params)
