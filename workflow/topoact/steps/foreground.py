"""The foreground steps: DeepLabV3's weights saved, an images store segmented into a masks
store, a layer's receptive fields saved and read, and the position scorer a masked
sampling's extraction reads from those files."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from topoact import store
from topoact.foreground import (
    SEGMENTATIONS,
    PositionScorer,
    ReceptiveFields,
    deeplab_masks,
    deeplab_model,
    grabcut_mask,
)
from topoact.names import masked_sampling


def save_deeplab_weights(path: str | os.PathLike) -> None:
    """Download torchvision's COCO-with-VOC-labels DeepLabV3 weights and save the state_dict."""
    from torchvision.models.segmentation import DeepLabV3_ResNet50_Weights, deeplabv3_resnet50

    model = deeplabv3_resnet50(weights=DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1)
    with store.atomic_file(path) as tmp:
        torch.save(model.state_dict(), tmp)


def write_masks(images_path: str | os.PathLike, out_path: str | os.PathLike, method: str, *,
                margin: float = 0.1, iterations: int = 5,
                weights_path: str | os.PathLike | None = None,
                device: torch.device | str = "cpu", batch_size: int = 16,
                attrs: dict[str, Any] | None = None, progress: bool = True) -> dict[str, int]:
    """Segment every image of an images store into a masks store (``masks``: bool N×H×W).

    Returns counts worth reporting: images whose mask is empty or covers everything
    (the samplings then rank positions by ERF mass alone), also saved as attributes.
    """
    if method not in SEGMENTATIONS:
        raise ValueError(f"unknown segmentation {method!r}; choose one of {list(SEGMENTATIONS)}")
    images_group = store.open_store(images_path, "images")
    images = images_group["images"]
    count, height, width, _ = images.shape
    model = deeplab_model(weights_path) if method == "deeplabv3" else None
    device = torch.device(device)
    stats = {"images": count, "empty": 0, "full": 0}
    with store.atomic_group(out_path, "masks", {"method": method, **(attrs or {})}) as group:
        masks = group.create_array("masks", shape=(count, height, width), dtype=bool,
                                   chunks=(max(1, min(count, 4096)), height, width))
        bar = tqdm(total=count, desc=f"segment ({method})", unit="img", disable=not progress)
        for first in range(0, count, batch_size):
            batch = images[first:first + batch_size]
            if model is None:
                found = np.stack([grabcut_mask(image, margin, iterations) for image in batch])
            else:
                found = deeplab_masks(model, batch, device)
            masks[first:first + len(batch)] = found
            covered = found.reshape(len(found), -1).mean(axis=1)
            stats["empty"] += int((covered == 0).sum())
            stats["full"] += int((covered == 1).sum())
            bar.update(len(batch))
        bar.close()
        group.attrs.update({"empty_masks": stats["empty"], "full_masks": stats["full"]})
    return stats


def open_masks(path: str | os.PathLike):
    """The ``masks`` array of a masks store (checked like every store)."""
    group = store.open_store(path, "masks")
    return group["masks"]


def sampling_scorer(sampling: str, masks_path: str | os.PathLike | None,
                    fields_path: str | os.PathLike | None,
                    device: torch.device | str = "cpu") -> PositionScorer | None:
    """The scorer a masked sampling (``foreground-top<p>``, ``background-top<p>``) needs
    from its masks and receptive-field stores; None for every other sampling.

    Raises
    ------
    ValueError
        For a masked sampling without its masks or receptive fields.
    """
    masked = masked_sampling(sampling)
    if not masked:
        return None
    if masks_path is None or fields_path is None:
        raise ValueError(f"sampling {sampling!r} needs the dataset's masks and the layer's "
                         "receptive fields")
    return PositionScorer(load_fields(fields_path), open_masks(masks_path),
                          background=masked[0] == "background", device=device)


def save_fields(fields: ReceptiveFields, path: str | os.PathLike) -> None:
    """Save a layer's receptive fields as a compressed npz (written whole, then renamed)."""
    with store.atomic_file(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, indptr=fields.indptr, pixels=fields.pixels,
                            weights=fields.weights, layer_shape=np.array(fields.layer_shape),
                            image_shape=np.array(fields.image_shape))


def load_fields(path: str | os.PathLike) -> ReceptiveFields:
    """Read a file written by :func:`save_fields`, with a clear error when it is not one."""
    try:
        with np.load(path) as data:
            return ReceptiveFields(data["indptr"], data["pixels"], data["weights"],
                                   tuple(int(v) for v in data["layer_shape"]),
                                   tuple(int(v) for v in data["image_shape"]))
    except (OSError, KeyError, ValueError) as error:
        raise store.StoreError(f"{path}: not a receptive-field file ({error})") from error
