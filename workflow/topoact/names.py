"""Names the workflow parses without importing torch: samplings and resource paths."""

from __future__ import annotations

import re

#: Sampling names with a fixed number of points per image (``full`` has H·W).
SAMPLINGS = ("random", "full", "top-l2")

#: The foreground/background samplings (Purvine et al.): the top p positions per image.
MASKED_SAMPLING = r"(foreground|background)-top[1-9][0-9]*"

#: A regular expression matching every sampling name (Snakemake wildcard constraint).
SAMPLING_PATTERN = "|".join([*(re.escape(name) for name in SAMPLINGS), MASKED_SAMPLING])


def check_sampling(name: str) -> str:
    """Return ``name`` if it is a known sampling, else raise with the valid choices."""
    if not re.fullmatch(SAMPLING_PATTERN, name):
        raise ValueError(f"unknown sampling {name!r}; choose one of {list(SAMPLINGS)} or "
                         "foreground-top<p> / background-top<p> (p ≥ 1)")
    return name


def masked_sampling(name: str) -> tuple[str, int] | None:
    """``("foreground" | "background", p)`` for a masked sampling's name, else None."""
    match = re.fullmatch(r"(foreground|background)-top([1-9][0-9]*)", name)
    return (match[1], int(match[2])) if match else None


#: What a noisy variant's dataset name holds between the dataset and σ (``digits-noise-0.1``).
NOISE = "-noise-"

#: Where the DeepLabV3 weights are saved by the download rule.
DEEPLAB_WEIGHTS = "resources/weights/deeplabv3-resnet50-voc.pt"


#: Mapper covers and lenses (:mod:`topoact.mapper`), and the ε modes of the workflow's grid.
COVERS = ("exact", "kmapper", "balanced")
LENSES = ("l2", "pca1", "pca2", "codensity")
EPSILON_MODES = ("adaptive", "fixed")


def percent_label(percent: float) -> str:
    """Canonical label of a percentage: ``30`` for 30, 30.0 and '30'; ``12.5`` for 12.5."""
    value = float(percent)
    if not 0 <= value < 100:
        raise ValueError(f"overlap must be a percent in [0, 100), got {percent!r}")
    return format(value, "g")


def cover_prefix(cover: str) -> str:
    """What a graph's name starts with: ``cover-balanced-`` for the balanced cover, else
    nothing (the exact and kmapper covers keep TopoAct's names)."""
    if cover not in COVERS:
        raise ValueError(f"unknown cover {cover!r}; choose one of {list(COVERS)}")
    return "cover-balanced-" if cover == "balanced" else ""


def grid_parameters(overlaps: list[float], epsilons: list[str]) -> list[tuple[float, str]]:
    """(overlap percent, ε mode) of every graph of a layer's grid, overlaps outermost: the
    order of a grid job's outputs."""
    return [(overlap, epsilon) for overlap in overlaps for epsilon in epsilons]


def grid_name(overlap_percent: float, epsilon: str, cover: str = "exact") -> str:
    """TopoAct's name of a parameter set, e.g. ``overlap-30-epsilon-adaptive``
    (``cover-balanced-overlap-30-epsilon-adaptive`` with the balanced cover)."""
    if epsilon not in EPSILON_MODES:
        raise ValueError(f"unknown ε mode {epsilon!r}; choose one of {list(EPSILON_MODES)}")
    return f"{cover_prefix(cover)}overlap-{percent_label(overlap_percent)}-epsilon-{epsilon}"
