"""The ε step: a cloud's store in, the estimate's record and its k-distance plot out."""

from __future__ import annotations

from topoact import plots, store
from topoact.epsilon import EpsilonEstimate, estimate_epsilon


def epsilon_for_store(points_path, json_path, plot_path, *, k: int, max_points: int | None,
                      seed: int = 0, n_jobs: int = 1, exact_below: int = 0,
                      large: str = "cells", device: str = "cpu",
                      title: str = "") -> EpsilonEstimate:
    """Estimate ε for an activations store; write the JSON record and the k-distance plot."""
    points, _, _ = store.load_points(points_path)
    estimate, curve = estimate_epsilon(points, k, max_points, seed, n_jobs, exact_below, large,
                                       device)
    plots.plot_k_distance(curve, estimate, plot_path, title)
    store.write_json(json_path, {**estimate.to_dict(), "source": str(points_path)}, indent=2)
    return estimate
