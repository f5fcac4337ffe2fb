"""The model steps: an architecture trained on an images store's train split (evaluated on
its test split), or given weights, each with its sidecar's contents."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from topoact import store
from topoact.layers import (
    TORCHSCRIPT,
)
from topoact.models.checkpoints import (
    _output_width,
    load_checkpoint,
    load_model,
    load_weights,
    model_metadata,
    sidecar_path,
)
from topoact.models.training import check_logits, train_classifier
from topoact.models.user import architecture_of


def train_test_split(group, images_path: str | os.PathLike = ""
                     ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray],
                                list[str]]:
    """The (images, labels) of an images store's train and test splits, and its classes."""
    info = store.image_store_info(group)
    for split in ("train", "test"):
        if split not in info.splits:
            raise store.StoreError(f"{images_path}: a model is trained on the 'train' split and "
                                   f"evaluated on 'test'; the store has {sorted(info.splits)}")
    pixels, labels = group["images"][:], group["labels"][:]
    (a, b), (c, d) = info.splits["train"], info.splits["test"]
    return (pixels[a:b], labels[a:b]), (pixels[c:d], labels[c:d]), list(info.classes)


def train_from_store(images_path: str | os.PathLike, architecture: str | dict, *, seed: int,
                     epochs: int, batch_size: int, learning_rate: float, weight_decay: float,
                     device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """Train an architecture on an images store's train split; evaluate on its test split.

    Returns
    -------
    model, metadata
        The trained model and the sidecar contents (architecture, classes, layer names
        with their module paths and activation shapes, training record).
    """
    torch.manual_seed(seed)
    train, heldout, classes = train_test_split(store.open_store(images_path, "images"),
                                               images_path)
    arch = architecture_of(architecture)
    model = arch.build(len(classes))
    check_logits(model, arch, len(classes))
    record = train_classifier(model, train, heldout,
                              epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                              weight_decay=weight_decay, seed=seed, device=device)
    metadata = model_metadata(model, arch, classes, vars(record), store.provenance(
        {"architecture": arch.name, "kwargs": (arch.spec or {}).get("kwargs"),
         "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
         "weight_decay": weight_decay},
        {"images": str(images_path)}, seed))
    return model, metadata


def pretrained_from_file(architecture: str | dict, weights: str, source_path: str | os.PathLike
                         ) -> tuple[nn.Module, dict[str, Any]]:
    """A model with given weights instead of training: ``weights`` is ``imagenet`` (the
    file saved by :func:`save_imagenet_weights`) or the path of a user checkpoint.

    Returns the model and its sidecar contents (as :func:`train_from_store` does).
    """
    arch = architecture_of(architecture)
    if arch.spec is not None:  # a user model: its state_dict, its own classes
        model = arch.build(0)
        if arch.name != TORCHSCRIPT:  # a TorchScript file carries its weights
            load_weights(arch.network(model), source_path)
        side = sidecar_path(source_path)
        classes = json.loads(side.read_text()).get("classes") if side.exists() else None
        outputs = _output_width(model, arch.input_size)
        classes = classes or [str(k) for k in range(outputs)]
    elif weights == "imagenet":
        model, saved = load_model(source_path)
        classes = list(saved["classes"])
    else:
        side = sidecar_path(source_path)
        classes = (json.loads(side.read_text()).get("classes") if side.exists() else None)
        state = torch.load(source_path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        head = [v for k, v in state.items() if k.endswith(("fc.weight", "classifier.6.weight"))]
        num_classes = int(head[0].shape[0]) if head else 1000
        classes = classes or [str(k) for k in range(num_classes)]
        model = load_checkpoint(architecture, source_path, len(classes))
    metadata = model_metadata(model, arch, classes, None, store.provenance(
        {"architecture": arch.name, "weights": weights}, {"weights": str(source_path)}, None))
    return model, metadata
