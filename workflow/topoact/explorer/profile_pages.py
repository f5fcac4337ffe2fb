"""The explorer's profiles page: each profiled data example with its profile size per layer
and its persistence image, under each analysis's class-level figures.

Static HTML (no script: the explorer's Content-Security-Policy allows none inline) from
the Jinja2 template ``templates/profiles.html`` with autoescaping on, so every name in it
is escaped by default. Persistence images share one colour scale per analysis, as they
share one grid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from topoact import store
from topoact.explorer.pages import render_page

#: The class-level figures of an analysis shown above its examples (file, caption).
FIGURES = (("persistence-images.png", "mean H1 persistence image per class"),
           ("class-jaccard.png", "Jaccard similarity of class profiles"),
           ("within-across.png", "image profiles within against across classes"),
           ("sizes.png", "profile size per layer"))
#: The inline bar chart of a profile's size per layer (SVG units).
BARS = {"width": 180, "height": 40}


@dataclass(frozen=True)
class ProfileSource:
    """One analysis's profiles and the files the page shows with them."""

    dataset: str
    model: str
    seed: int
    neuron: str
    profiles: str  # the profiles store
    topology: str  # its topology.npz (persistence images, sizes per layer)
    images: str  # the dataset's images store (thumbnails)

    @property
    def run(self) -> str:
        return f"{self.dataset}/{self.model}/seed-{self.seed}"

    @property
    def anchor(self) -> str:
        return f"{self.dataset}-{self.model}-seed-{self.seed}-{self.neuron}"


def _bars(sizes: np.ndarray, names: list[str]) -> list[dict]:
    """A bar per layer (the profile's neurons in it), in SVG units of :data:`BARS`."""
    top = max(int(sizes.max()), 1)
    step = BARS["width"] / max(len(sizes), 1)
    bars = []
    for i, (size, name) in enumerate(zip(sizes, names, strict=True)):
        height = BARS["height"] * int(size) / top
        bars.append({"x": i * step, "y": BARS["height"] - height, "width": step * 0.8,
                     "height": height, "name": name, "size": int(size)})
    return bars


def _save_image(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _coloured(image: np.ndarray, top: float) -> np.ndarray:
    """A persistence image as RGB (magma, 0..top), birth across, persistence up."""
    scaled = np.clip(image.T[::-1] / (top or 1.0), 0, 1)
    return (matplotlib.colormaps["magma"](scaled)[..., :3] * 255).astype(np.uint8)


def _analysis_section(source: ProfileSource, out_dir: Path, folder: str) -> dict:
    """One analysis for the template: its figures (copied into ``folder``), then a card
    per profiled image (its thumbnail and persistence image written there)."""
    tables, attrs = store.read_profiles(source.profiles)
    topology = np.load(source.topology)
    classes, layers = attrs["classes"], [r["name"] for r in attrs["layers"]]
    images = store.open_store(source.images, "images")["images"]
    top = float(topology["images"].max()) if topology["images"].size else 1.0
    h1 = topology["bars"][topology["bars"][:, 1] == 1] if len(topology["bars"]) else \
        np.zeros((0, 4))
    base = Path(source.profiles).parent
    figures = []
    for name, caption in FIGURES:
        if (base / name).exists():
            (out_dir / folder).mkdir(parents=True, exist_ok=True)
            (out_dir / folder / name).write_bytes((base / name).read_bytes())
            figures.append({"file": name, "caption": caption})
    cards = []
    for row, (index, label) in enumerate(zip(tables["image"], tables["label"], strict=True)):
        _save_image(np.asarray(images[int(index)]), out_dir / folder / f"image-{index}.png")
        _save_image(_coloured(topology["images"][row], top), out_dir / folder / f"pi-{index}.png")
        cards.append({"index": int(index), "name": classes[int(label)],
                      "neurons": int(topology["sizes"][row].sum()),
                      "bars": int((h1[:, 0] == row).sum()),
                      "layers": _bars(topology["sizes"][row], layers)})
    return {"anchor": source.anchor, "run": source.run, "neuron": source.neuron,
            "threshold": attrs["threshold"], "folder": folder, "figures": figures,
            "cards": cards}


def write_profile_pages(sources: Sequence[ProfileSource], out_dir: str | os.PathLike
                        ) -> list[dict]:
    """Write ``profiles/index.html`` (and its images) into the explorer folder ``out_dir``.

    Returns
    -------
    list of dict
        The manifest's ``profiles`` entries (run, neuron, page anchor).
    """
    out_dir = Path(out_dir) / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [_analysis_section(source, out_dir, f"{number}")
                for number, source in enumerate(sources)]
    (out_dir / "index.html").write_text(render_page("profiles.html", sections=sections,
                                                    bars=BARS))
    return [{"run": s.run, "neuron": s.neuron, "page": f"profiles/index.html#{s.anchor}"}
            for s in sources]
