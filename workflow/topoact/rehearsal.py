"""The inputs of a preset's rehearsal: its datasets and weights, made here, in the formats
the real ones come in, so that the papers' runs go through every stage on a machine
without their downloads (or before hours of GPU time are spent on them).

A rehearsal overlay (``config/rehearsal/{preset}.yaml``, read on top of the preset)
keeps the preset's architecture, layers, image size, class count, samplings, grid and
stages, and points its datasets and weights at what :func:`prepare` writes:

- ImageNet-shaped folders (``ROOT/CLASS/IMAGE.JPEG``, the preset's class count, a few
  JPEGs per class of smooth random colour fields) for ``imagefolder`` datasets;
- Imagenette's extracted archive (``imagenette2-320/{train,val}/WNID/*.JPEG``);
- CIFAR-10's python batches (``cifar-10-batches-py/``: ``data_batch_1`` … ``_5``,
  ``test_batch``, ``batches.meta``, pickled as the real archive has them);
- random weights of each torchvision architecture saved as a ``state_dict`` checkpoint,
  which the workflow loads through a model's ``weights: PATH`` (the route a user with
  their own checkpoint takes).

What is made is fixed by the seed, so two rehearsals see the same inputs.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from topoact import data

#: Imagenette's ten ImageNet WordNet ids (torchvision's names them).
IMAGENETTE_WNIDS = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
                    "n03394916", "n03417042", "n03425413", "n03445777", "n03888257")

#: What each preset's rehearsal needs: image folders (path, classes, images per class for
#: the first classes and then for the rest), Imagenette folders, and checkpoints
#: (architecture, classes).
PRESETS = {
    "topoact": {
        # 1,000 classes like ImageNet; 20 classes with 6 images give the held-out split
        # (test_fraction 0.1 of 6 rounds to 1) its 20 images, the others one image each.
        "folders": [("imagenet/train", 1000, 6, 20, 1)],
        "checkpoints": [("googlenet", 1000)],
    },
    "generalization": {
        # Imagenette's ten classes, 6 training and 6 validation images each.
        "imagenette": [("imagenette", 6, 6)],
        # ImageNet's 1,000-class heads, as the preset's downloaded weights have.
        "checkpoints": [("resnet18", 1000), ("googlenet", 1000), ("inception_v3", 1000),
                        ("alexnet", 1000)],
    },
    "purvine": {
        # CIFAR-10's five training batches and test batch, 100 images each (10 per class);
        # the preset trains its own ResNet-18s, so no checkpoint.
        "cifar10": [("cifar10", 100)],
    },
}

#: CIFAR-10's class names, in its label order (``batches.meta``).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


def smooth_image(rng: np.random.Generator, size: int) -> Image.Image:
    """A smooth random colour field (a 4 × 4 grid of colours, bilinearly enlarged): an
    image with structure at several scales, unlike pixel noise, and small as a JPEG."""
    grid = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(grid).resize((size, size), Image.BILINEAR)


def write_image_folder(root: Path, classes: int, many: int, first: int, rest: int,
                       size: int = 256, seed: int = 0) -> int:
    """``classes`` class folders (``class-0000`` …) of JPEGs: ``many`` images in each of
    the first ``first`` classes, ``rest`` in the others. Returns the number written."""
    rng = np.random.default_rng(seed)
    written = 0
    for label in range(classes):
        folder = root / f"class-{label:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(many if label < first else rest):
            smooth_image(rng, size).save(folder / f"image-{k:02d}.JPEG", quality=85)
            written += 1
    return written


def write_imagenette(root: Path, train: int, val: int, size: int = 320, seed: int = 0) -> int:
    """Imagenette's extracted 320 px archive: ``train`` and ``val`` JPEGs per class."""
    folder = root / "imagenette2-320"
    written = 0
    for split, count, offset in (("train", train, 0), ("val", val, 1)):
        rng = np.random.default_rng(seed + offset)
        for wnid in IMAGENETTE_WNIDS:
            (folder / split / wnid).mkdir(parents=True, exist_ok=True)
            for k in range(count):
                smooth_image(rng, size).save(folder / split / wnid / f"{wnid}_{k}.JPEG")
                written += 1
    return written


def write_cifar10(root: Path, per_batch: int, seed: int = 0) -> int:
    """CIFAR-10's python batches under ``root/cifar-10-batches-py``: five training batches
    and a test batch of ``per_batch`` 32 px images each, classes in turn (so every batch
    holds each class equally), rows of channel planes (R, G, B) as the real files store
    them. Returns the number of images written."""
    rng = np.random.default_rng(seed)
    folder = root / data.CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    for name in names:
        images = np.stack([np.asarray(smooth_image(rng, 32)) for _ in range(per_batch)])
        labels = [k % len(CIFAR10_CLASSES) for k in range(per_batch)]
        flat = images.transpose(0, 3, 1, 2).reshape(per_batch, 3072)
        with open(folder / name, "wb") as handle:
            pickle.dump({"batch_label": name, "labels": labels, "data": flat}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": list(CIFAR10_CLASSES), "num_vis": 3072,
                     "num_cases_per_batch": per_batch}, handle)
    return per_batch * len(names)


def write_checkpoint(path: Path, architecture: str, num_classes: int, seed: int = 0) -> None:
    """Random weights of a torchvision architecture (as this package builds it) saved as
    the torchvision network's ``state_dict``.

    Convolutions and linear layers are drawn with He's (Kaiming's) scale: torchvision's
    own GoogLeNet initialisation (std 0.01) shrinks activations layer by layer through
    BatchNorm at its initial statistics, until the last layer's outputs are equal for
    every image (the ε estimate then refuses the cloud, rightly)."""
    import torch  # here: the folders need no torch
    from torch import nn

    from topoact import models

    torch.manual_seed(seed)
    model = models.get_architecture(architecture).build(num_classes)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.net.state_dict(), path)


def prepare(preset: str, root: str | Path = "rehearsal") -> list[Path]:
    """Write what ``config/rehearsal/{preset}.yaml`` reads under ``root`` (once: what
    exists is kept). Returns the paths it made or found.

    Raises
    ------
    ValueError
        For a preset without a rehearsal.
    """
    if preset not in PRESETS:
        raise ValueError(f"no rehearsal for preset {preset!r}; rehearsals: {sorted(PRESETS)}")
    root, needs, made = Path(root), PRESETS[preset], []
    for folder, classes, many, first, rest in needs.get("folders", []):
        if not (root / folder).is_dir():
            write_image_folder(root / folder, classes, many, first, rest)
        made.append(root / folder)
    for folder, train, val in needs.get("imagenette", []):
        if not (root / folder / "imagenette2-320").is_dir():
            write_imagenette(root / folder, train, val)
        made.append(root / folder)
    for folder, per_batch in needs.get("cifar10", []):
        if not (root / folder / "cifar-10-batches-py" / "batches.meta").exists():
            write_cifar10(root / folder, per_batch)
        made.append(root / folder)
    for architecture, classes in needs.get("checkpoints", []):
        path = root / "weights" / f"{architecture}-{classes}.pt"
        if not path.exists():
            write_checkpoint(path, architecture, classes)
        made.append(path)
    return made
