"""Sliced Wasserstein distances between layers: the project's, persim's and gudhi's.

The homology stage compares every pair of a model's layers, per batch and dimension
(:func:`topoact.homology.distance_matrix`). This times that matrix three ways on the
diagrams a finished run wrote: the project's vectorised computation, persim's
``sliced_wasserstein`` (the reference Purvine et al. used; a loop per pair) and gudhi's
``SlicedWassersteinDistance`` (``fit``/``transform``: every diagram projected once, then
all pairs), and reports each one's largest relative difference from persim's values.
persim and the project use M directions θ_i = (0.5 + i/M)π; gudhi uses M − 1 directions
evenly spread over [−π/2, π/2) (asked for M + 1, M of them, spaced π/(M + 1)), so its
values differ from persim's by the approximation, not by rounding.

Run: ``.venv/bin/python bench/sliced_wasserstein.py [--diagrams DIR] [--directions 50]``
after ``make run`` (DIR: results/homology/digits/digits-cnn/seed-0/diagrams).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
from gudhi.representations import SlicedWassersteinDistance
from persim import sliced_wasserstein as persim_sw

from topoact import homology
from topoact.steps.homology import load_diagrams

DIAGRAMS = Path("results/homology/digits/digits-cnn/seed-0/diagrams")


def gudhi_matrix(layers: list[homology.LayerDiagrams], dim: int, directions: int
                 ) -> np.ndarray:
    """(B, L, L) distances from gudhi's SlicedWassersteinDistance, one fit per batch."""
    n_batches = len(layers[0].diagrams)
    out = np.zeros((n_batches, len(layers), len(layers)))
    metric = SlicedWassersteinDistance(num_directions=directions + 1)
    for b in range(n_batches):
        diagrams = [homology.finite(layer.diagrams[b][dim]) for layer in layers]
        diagrams = [d if len(d) else np.zeros((1, 2)) for d in diagrams]
        out[b] = metric.fit(diagrams).transform(diagrams)
    return out


def persim_matrix(layers: list[homology.LayerDiagrams], dim: int, directions: int
                  ) -> np.ndarray:
    """(B, L, L) distances from persim, one call per pair (as the reference computes)."""
    n_batches = len(layers[0].diagrams)
    out = np.zeros((n_batches, len(layers), len(layers)))
    for b in range(n_batches):
        for i, first in enumerate(layers):
            for j in range(i + 1, len(layers)):
                pair = homology.diagram_pair(first.diagrams[b][dim], layers[j].diagrams[b][dim])
                if pair is not None:
                    out[b, i, j] = out[b, j, i] = persim_sw(*pair, M=directions)
    return out


def relative(values: np.ndarray, reference: np.ndarray) -> float:
    """The largest relative difference over the pairs where the reference is positive."""
    positive = reference > 0
    return float(np.max(np.abs(values[positive] - reference[positive]) / reference[positive]))


def timed(function, *args) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diagrams", type=Path, default=DIAGRAMS,
                        help="a run's diagrams folder (one .npz per layer)")
    parser.add_argument("--directions", type=int, default=50)
    parser.add_argument("--copies", type=int, default=1,
                        help="compare the layers this many times over (more layers: 4 copies "
                             "of the default's 5 are 20, like the Purvine preset's 17)")
    args = parser.parse_args()
    paths = sorted(args.diagrams.glob("*.npz"))
    if len(paths) < 2:
        raise SystemExit(f"{args.diagrams}: fewer than two layers' diagrams (run make run)")
    layers = [load_diagrams(path) for path in paths] * args.copies
    print(f"{platform.processor() or platform.machine()}; {len(layers)} layers × "
          f"{len(layers[0].diagrams)} batches, M = {args.directions} directions")
    print(f"{'dim':>3} {'ours s':>8} {'persim s':>9} {'gudhi s':>8} {'persim/ours':>11} "
          f"{'gudhi/ours':>10} {'ours vs persim':>14} {'gudhi vs persim':>15}")
    for dim in range(layers[0].maxdim + 1):
        ours, t_ours = timed(homology.distance_matrix, layers, layers, dim, args.directions)
        reference, t_persim = timed(persim_matrix, layers, dim, args.directions)
        theirs, t_gudhi = timed(gudhi_matrix, layers, dim, args.directions)
        print(f"{dim:>3} {t_ours:8.3f} {t_persim:9.3f} {t_gudhi:8.3f} "
              f"{t_persim / t_ours:10.1f}× {t_gudhi / t_ours:9.1f}× "
              f"{relative(ours, reference):14.1e} {relative(theirs, reference):15.1e}")


if __name__ == "__main__":
    main()
