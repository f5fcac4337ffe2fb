"""Datasets: loaders that stream labelled RGB images into an images store.

A loader returns an :class:`ImageSource`: the metadata of the dataset and a function
yielding ``(images, labels)`` batches in index order. Nothing requires the whole
dataset in memory, so ImageNet-scale folders fit the same contract as the embedded
digits. Each split is a contiguous index range. Each loader imports its heavy library
(torch, scikit-learn, torchvision) itself, so a job loads only what its loader uses.
"""

from __future__ import annotations

import inspect
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

Batch = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ImageSource:
    """A dataset ready to be written to an images store.

    Attributes
    ----------
    count
        Number of images N.
    image_shape
        ``(H, W, 3)`` of every image (uint8 RGB).
    classes
        Class names in label index order.
    splits
        Split name to ``[start, stop)`` index range.
    source
        Human-readable origin (loader and where its data came from).
    batches
        ``batches(batch_size)`` yields ``(uint8 (B, H, W, 3), int (B,))`` in index order.
    """

    count: int
    image_shape: tuple[int, int, int]
    classes: list[str]
    splits: dict[str, tuple[int, int]]
    source: str
    batches: Callable[[int], Iterator[Batch]]


def _in_memory_batches(images: np.ndarray, labels: np.ndarray) -> Callable[[int], Iterator[Batch]]:
    def batches(batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size], labels[start:start + batch_size]

    return batches


def digits_to_rgb(digits: np.ndarray, image_size: int) -> np.ndarray:
    """Turn scikit-learn's 8×8 digits (values 0–16) into RGB uint8 images.

    Parameters
    ----------
    digits
        Array (N, 8, 8) of intensities in [0, 16].
    image_size
        Side of the output images; bilinear upsampling from 8×8.

    Returns
    -------
    np.ndarray
        uint8 array (N, image_size, image_size, 3), grey images in three equal channels.
    """
    import torch
    import torch.nn.functional as F

    grey = torch.from_numpy(np.asarray(digits, dtype=np.float32) / 16.0)[:, None]
    if image_size != grey.shape[-1]:
        grey = F.interpolate(grey, size=(image_size, image_size), mode="bilinear",
                             align_corners=False)
    pixels = (grey.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0].numpy()
    return np.repeat(pixels[..., None], 3, axis=-1)


def load_digits(image_size: int = 32, test_fraction: float = 0.2,
                split_seed: int = 0) -> ImageSource:
    """scikit-learn's digits (1,797 images, 10 classes) as RGB images, the embedded default.

    The held-out split is stratified by class and fixed by ``split_seed``; training
    images come first (indices ``[0, n_train)``), held-out ones after.

    Parameters
    ----------
    image_size
        Side of the RGB images (upsampled from 8×8).
    test_fraction
        Fraction of images held out (the ``test`` split).
    split_seed
        Seed of the stratified split.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    indices = np.arange(len(bunch.target))
    train, test = train_test_split(indices, test_size=test_fraction, random_state=split_seed,
                                   stratify=bunch.target)
    order = np.concatenate([np.sort(train), np.sort(test)])
    images = digits_to_rgb(bunch.images[order], image_size)
    labels = bunch.target[order].astype(np.int16)
    n_train = len(train)
    return ImageSource(
        count=len(order),
        image_shape=images.shape[1:],
        classes=[str(d) for d in range(10)],
        splits={"train": (0, n_train), "test": (n_train, len(order))},
        source="sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
        batches=_in_memory_batches(images, labels),
    )


# --------------------------------------------------------------------------- real datasets

#: Where CIFAR-10 is downloaded from (torchvision's source) and its archive checksum.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def download_cifar10(root: str | os.PathLike) -> Path:
    """Download and unpack CIFAR-10's python batches into ``root`` (torchvision's downloader).

    Returns the folder of the batches; does nothing when it is already there.
    """
    from torchvision.datasets.utils import download_and_extract_archive

    folder = Path(root) / CIFAR10_FOLDER
    if not (folder / "batches.meta").exists():
        download_and_extract_archive(CIFAR10_URL, str(root), md5=CIFAR10_MD5)
    return folder


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle, encoding="latin1")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing CIFAR-10 batch (download it with "
                                "download: true, or point root at the unpacked archive)") from None
    except Exception as error:  # a truncated or foreign file
        raise ValueError(f"{path}: not a CIFAR-10 python batch ({error})") from error


def load_cifar10(root: str = "resources/cifar10", image_size: int = 32,
                 download: bool = False) -> ImageSource:
    """CIFAR-10 from its python batches: ``train`` = the 50,000 training images, then
    ``test`` = the 10,000 test images, at 32 px (resized when ``image_size`` differs).

    Parameters
    ----------
    root
        Folder holding (or receiving) ``cifar-10-batches-py``.
    image_size
        Side of the stored images.
    download
        Download the archive first when it is not there (the workflow's download rule
        does this on a node with network).
    """
    folder = download_cifar10(root) if download else Path(root) / CIFAR10_FOLDER
    meta = _unpickle(folder / "batches.meta")
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    parts, labels = [], []
    for name in names:
        batch = _unpickle(folder / name)
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError(f"{folder / name}: 'data' has shape {data.shape}, expected (N, 3072)")
        parts.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch["labels"], dtype=np.int16))
    images, labels_all = np.concatenate(parts), np.concatenate(labels)
    if image_size != 32:
        images = _resize_array(images, image_size)
    n_train = sum(len(p) for p in parts[:-1])
    return ImageSource(
        count=len(images), image_shape=images.shape[1:], classes=list(meta["label_names"]),
        splits={"train": (0, n_train), "test": (n_train, len(images))},
        source=f"cifar10 python batches in {folder}",
        batches=_in_memory_batches(images, labels_all))


def _resize_array(images: np.ndarray, size: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def image_folder_files(root: str | os.PathLike) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class folders (sorted) and ``(path, label)`` of every image file in ImageFolder layout."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: image folder not found (expected class sub-folders)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root}: no class sub-folders (expected ROOT/CLASS/IMAGE files)")
    files = [(path, label) for label, name in enumerate(classes)
             for path in sorted((root / name).rglob("*"))
             if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()]
    if not files:
        raise ValueError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) "
                         "in its class folders")
    return classes, files


def unreadable_images(paths: list[Path]) -> list[tuple[Path, str]]:
    """The files PIL cannot decode, with the reason (every file is fully decoded once)."""
    bad = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
        except Exception as error:  # PIL raises many kinds for broken files
            bad.append((path, f"{type(error).__name__}: {error}"))
    return bad


def resize_crop(path: Path, resize: int, crop: int) -> np.ndarray:
    """The papers' preprocessing, with torchvision's own functions: shorter side to
    ``resize`` (bilinear), then the centre ``crop`` × ``crop``; RGB uint8."""
    from torchvision.transforms import functional

    with Image.open(path) as image:
        image = functional.resize(image.convert("RGB"), resize,
                                  interpolation=functional.InterpolationMode.BILINEAR)
        return np.asarray(functional.center_crop(image, crop), dtype=np.uint8)


def load_imagefolder(root: str, per_class: int | None = None, resize: int = 256,
                     crop: int = 224, test_fraction: float = 0.2, split_seed: int = 0,
                     skip_unreadable: bool = False, class_names: dict[str, str] | None = None
                     ) -> ImageSource:
    """Images in ImageFolder layout (ROOT/CLASS/IMAGE), e.g. an ImageNet subset.

    Parameters
    ----------
    root
        The folder of class folders.
    per_class
        Images drawn per class (TopoAct: 300), at random with ``split_seed``; all if None.
    resize, crop
        Shorter side resized to ``resize``, then a centre crop of ``crop`` px (the papers'
        256 → 224).
    test_fraction, split_seed
        Held-out fraction per class and the seed of the draw and split.
    skip_unreadable
        Leave out files PIL cannot decode (reported) instead of stopping.
    class_names
        Readable names of class folders (e.g. WordNet ids → ImageNet names).

    Raises
    ------
    ValueError
        When image files cannot be decoded (the message counts them and names the first
        few), unless ``skip_unreadable``.
    """
    classes, files = image_folder_files(root)
    rng = np.random.default_rng(split_seed)
    chosen_train, chosen_test = [], []
    for label in range(len(classes)):
        of_class = [path for path, lab in files if lab == label]
        if per_class is not None and len(of_class) > per_class:
            pick = np.sort(rng.choice(len(of_class), size=per_class, replace=False))
            of_class = [of_class[i] for i in pick]
        n_test = int(round(test_fraction * len(of_class)))
        held = set(rng.choice(len(of_class), size=n_test, replace=False).tolist())
        for k, path in enumerate(of_class):
            (chosen_test if k in held else chosen_train).append((path, label))
    names = [(class_names or {}).get(c, c) for c in classes]
    source = (f"image folder {root} (resize {resize}, centre crop {crop}"
              + (f", {per_class} per class" if per_class else "") + ")")
    return _files_source(chosen_train, chosen_test, names, resize, crop, root,
                         skip_unreadable, source)


def _files_source(train: list[tuple[Path, int]], test: list[tuple[Path, int]],
                  classes: list[str], resize: int, crop: int, root, skip_unreadable: bool,
                  source: str) -> ImageSource:
    """An ImageSource over image files: ``train`` first, then ``test``, decoded lazily.

    Every file is decoded once up front, so unreadable files are reported by path before
    anything is written, not as a crash halfway through the store.
    """
    bad = unreadable_images([path for path, _ in train + test])
    if bad:
        listing = "; ".join(f"{path} ({reason})" for path, reason in bad[:5])
        if not skip_unreadable:
            raise ValueError(f"{root}: {len(bad)} unreadable image file(s), e.g. {listing} "
                             "(fix or remove them, or set skip_unreadable: true)")
        print(f"{root}: skipping {len(bad)} unreadable image file(s), e.g. {listing}",
              file=sys.stderr)
        broken = {path for path, _ in bad}
        train = [(p, lab) for p, lab in train if p not in broken]
        test = [(p, lab) for p, lab in test if p not in broken]
    chosen = train + test

    def batches(batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(chosen), batch_size):
            part = chosen[start:start + batch_size]
            yield (np.stack([resize_crop(path, resize, crop) for path, _ in part]),
                   np.array([label for _, label in part], dtype=np.int16))

    return ImageSource(count=len(chosen), image_shape=(crop, crop, 3), classes=list(classes),
                       splits={"train": (0, len(train)), "test": (len(train), len(chosen))},
                       source=source, batches=batches)


def download_imagenette(root: str | os.PathLike, size: str = "320px") -> Path:
    """Download Imagenette with torchvision (once); returns its folder with train/ and val/."""
    from torchvision.datasets import Imagenette

    folder = imagenette_folder(root, size)
    if not (folder / "train").is_dir():
        Imagenette(str(root), split="train", size=size, download=True)
    return folder


def imagenette_folder(root: str | os.PathLike, size: str) -> Path:
    names = {"full": "imagenette2", "320px": "imagenette2-320", "160px": "imagenette2-160"}
    if size not in names:
        raise ValueError(f"imagenette size {size!r}: choose one of {sorted(names)}")
    return Path(root) / names[size]


def load_imagenette(root: str = "resources/imagenette", size: str = "320px",
                    download: bool = False, per_class: int | None = None, resize: int = 256,
                    crop: int = 224, split_seed: int = 0, skip_unreadable: bool = False
                    ) -> ImageSource:
    """Imagenette (10 ImageNet classes) with ImageNet class names: ``train`` = its train
    folder, ``test`` = its val folder, resized and centre-cropped as the papers do.

    Parameters
    ----------
    root
        Folder holding (or receiving) ``imagenette2[-320|-160]``.
    size
        Archive variant: ``full``, ``320px`` or ``160px``.
    download
        Download with torchvision first when missing.
    per_class
        Images drawn per class from each split (all if None).
    """
    from torchvision.datasets import Imagenette

    folder = download_imagenette(root, size) if download else imagenette_folder(root, size)
    rng = np.random.default_rng(split_seed)
    splits = {}
    wnids: list[str] | None = None
    for split in ("train", "val"):
        classes, files = image_folder_files(folder / split)
        if wnids is not None and classes != wnids:
            raise ValueError(f"{folder}: train and val hold different class folders")
        wnids = classes
        chosen = []
        for label in range(len(classes)):
            of_class = [path for path, lab in files if lab == label]
            if per_class is not None and len(of_class) > per_class:
                of_class = [of_class[i] for i in np.sort(
                    rng.choice(len(of_class), size=per_class, replace=False))]
            chosen += [(path, label) for path in of_class]
        splits[split] = chosen
    known = Imagenette._WNID_TO_CLASS
    names = [known[w][0] if w in known else w for w in wnids]
    return _files_source(splits["train"], splits["val"], names, resize, crop, folder,
                         skip_unreadable, f"imagenette {size} in {folder} (resize {resize}, "
                         f"centre crop {crop})")


#: Loader name (the ``loader`` key of a dataset in the config) to loader function.
LOADERS: dict[str, Callable[..., ImageSource]] = {
    "digits": load_digits,
    "cifar10": load_cifar10,
    "imagenette": load_imagenette,
    "imagefolder": load_imagefolder,
}

#: Loaders that download (into their ``root``) when ``download`` is set.
DOWNLOADERS: dict[str, Callable[..., Path]] = {
    "cifar10": lambda root, **_: download_cifar10(root),
    "imagenette": lambda root, size="320px", **_: download_imagenette(root, size),
}


def load_dataset(loader: str, **options: Any) -> ImageSource:
    """Build the :class:`ImageSource` of a configured dataset.

    Parameters
    ----------
    loader
        A key of :data:`LOADERS`.
    **options
        The loader's keyword arguments (the dataset's config entry, less ``loader``).

    Raises
    ------
    ValueError
        If the loader is unknown (the message lists the known ones).
    """
    if loader not in LOADERS:
        raise ValueError(f"unknown dataset loader {loader!r}; choose one of {sorted(LOADERS)}")
    function = LOADERS[loader]
    # The config carries every loader's keys (with defaults); pass a loader only its own.
    accepted = inspect.signature(function).parameters
    return function(**{k: v for k, v in options.items() if k in accepted})
