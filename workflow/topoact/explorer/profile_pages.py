"""The explorer's profiles page: each profiled data example with its profile size per layer
and its persistence image, under each analysis's class-level figures.

Static HTML (no script: the explorer's Content-Security-Policy allows none inline); every
name in it is escaped. Persistence images share one colour scale per analysis, as they
share one grid.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from topoact import store

#: The class-level figures of an analysis shown above its examples (file, caption).
FIGURES = (("persistence-images.png", "mean H1 persistence image per class"),
           ("class-jaccard.png", "Jaccard similarity of class profiles"),
           ("within-across.png", "image profiles within against across classes"),
           ("sizes.png", "profile size per layer"))


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


def _bars(sizes: np.ndarray, names: list[str], width: int = 180, height: int = 40) -> str:
    """An inline SVG bar per layer (the profile's neurons in it), titled for hovering."""
    top = max(int(sizes.max()), 1)
    step = width / max(len(sizes), 1)
    bars = []
    for i, (size, name) in enumerate(zip(sizes, names, strict=True)):
        h = height * int(size) / top
        bars.append(f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{step * 0.8:.1f}" '
                    f'height="{h:.1f}" fill="#4c72b0"><title>{html.escape(name)}: '
                    f'{int(size)} neurons</title></rect>')
    return (f'<svg class="sizes" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="profile size per layer">'
            f'{"".join(bars)}</svg>')


def _save_image(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _coloured(image: np.ndarray, top: float) -> np.ndarray:
    """A persistence image as RGB (magma, 0..top), birth across, persistence up."""
    scaled = np.clip(image.T[::-1] / (top or 1.0), 0, 1)
    return (matplotlib.colormaps["magma"](scaled)[..., :3] * 255).astype(np.uint8)


def _analysis_section(source: ProfileSource, out_dir: Path, folder: str) -> str:
    """One analysis: its figures, then a card per profiled image."""
    tables, attrs = store.read_profiles(source.profiles)
    topology = np.load(source.topology)
    classes, layers = attrs["classes"], [r["name"] for r in attrs["layers"]]
    images = store.open_store(source.images, "images")["images"]
    top = float(topology["images"].max()) if topology["images"].size else 1.0
    h1 = topology["bars"][topology["bars"][:, 1] == 1] if len(topology["bars"]) else \
        np.zeros((0, 4))
    parts = [f'<section id="{html.escape(source.anchor)}"><h2>{html.escape(source.run)}: '
             f'{html.escape(source.neuron)} profiles (threshold {attrs["threshold"]})</h2>',
             '<div class="figures">']
    base = Path(source.profiles).parent
    for name, caption in FIGURES:
        if (base / name).exists():
            store_path = out_dir / folder / name
            store_path.parent.mkdir(parents=True, exist_ok=True)
            store_path.write_bytes((base / name).read_bytes())
            parts.append(f'<figure><img src="{folder}/{name}" alt="{html.escape(caption)}">'
                         f'<figcaption>{html.escape(caption)}</figcaption></figure>')
    parts.append('</div><div class="cards">')
    for row, (index, label) in enumerate(zip(tables["image"], tables["label"], strict=True)):
        _save_image(np.asarray(images[int(index)]), out_dir / folder / f"image-{index}.png")
        _save_image(_coloured(topology["images"][row], top), out_dir / folder / f"pi-{index}.png")
        bars = int((h1[:, 0] == row).sum())
        name = classes[int(label)]
        parts.append(
            f'<div class="card" id="{html.escape(source.anchor)}-image-{int(index)}">'
            f'<img class="thumb" src="{folder}/image-{index}.png" alt="image {int(index)}">'
            f'<img class="pi" src="{folder}/pi-{index}.png" alt="persistence image">'
            f'<div class="caption">{html.escape(name)} · image {int(index)} · '
            f'{int(topology["sizes"][row].sum())} neurons · {bars} H1 bars</div>'
            f'{_bars(topology["sizes"][row], layers)}</div>')
    parts.append("</div></section>")
    return "".join(parts)


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
    index = "".join(f'<li><a href="#{html.escape(s.anchor)}">{html.escape(s.run)} — '
                    f'{html.escape(s.neuron)}</a></li>' for s in sources)
    (out_dir / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; '
        'img-src \'self\'; style-src \'self\'">'
        '<title>TopoAct explorer: profiles</title>'
        '<link rel="stylesheet" href="../explorer.css"></head><body class="profiles-page">'
        '<header><h1>Profiles (DeepDataProfiler)</h1><a href="../index.html">back to the '
        f'graphs</a></header><main class="profiles"><ul class="toc">{index}</ul>'
        f'{"".join(sections)}</main></body></html>\n')
    return [{"run": s.run, "neuron": s.neuron, "page": f"profiles/index.html#{s.anchor}"}
            for s in sources]
