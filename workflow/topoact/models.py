"""Models: the architecture registry (readable layer names), training, saving, loading.

Every model takes RGB images in [0, 1] (N, 3, H, W) and applies its own input
normalization first, so activation extraction and feature visualization feed the
same pixels whatever the architecture.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


class Normalize(nn.Module):
    """Per-channel input normalization, part of the model so every consumer agrees."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """The embedded model: four conv blocks and two linear layers for 32×32 RGB input.

    Activations are taken after each block's ReLU: ``conv1`` 32×16×16, ``conv2``
    64×16×16, ``conv3`` 128×8×8, ``conv4`` 128×4×4, ``fc1`` 128, ``logits`` 10.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        # Digits rendered grey on black: mean/std measured on the embedded default.
        self.normalize = Normalize((0.31,) * 3, (0.32,) * 3)
        self.conv1 = _conv_block(3, 32, stride=2)
        self.conv2 = _conv_block(32, 64)
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = _conv_block(64, 128)
        self.pool3 = nn.MaxPool2d(2)
        self.conv4 = _conv_block(128, 128)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(128, 128), nn.ReLU(inplace=True))
        self.logits = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        x = self.pool2(self.conv2(self.conv1(x)))
        x = self.pool3(self.conv3(x))
        x = self.gap(self.conv4(x))
        return self.logits(self.fc1(x))


@dataclass(frozen=True)
class Architecture:
    """A model family the workflow knows.

    Attributes
    ----------
    name
        Registry key (the ``architecture`` of a model in the config).
    build
        ``build(num_classes)`` returns an untrained :class:`torch.nn.Module`.
    layers
        Readable layer name to the module path whose output is the layer's activation.
    input_size
        Side of the square RGB input the model expects.
    """

    name: str
    build: Callable[[int], nn.Module]
    layers: dict[str, str]
    input_size: int
    description: str = ""


ARCHITECTURES: dict[str, Architecture] = {
    "small-cnn": Architecture(
        name="small-cnn",
        build=SmallCNN,
        layers={"conv1": "conv1", "conv2": "conv2", "conv3": "conv3", "conv4": "conv4",
                "fc1": "fc1", "logits": "logits"},
        input_size=32,
        description="4 conv blocks + 2 linear layers, trained by the workflow (embedded default)",
    ),
}


def get_architecture(name: str) -> Architecture:
    """Look up an architecture, with an error listing the known ones."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def layer_module(architecture: str, layer: str) -> str:
    """Module path of a readable layer name.

    Raises
    ------
    ValueError
        If the layer is not one of the architecture's (the message lists them).
    """
    layers = get_architecture(architecture).layers
    if layer not in layers:
        raise ValueError(f"unknown layer {layer!r} of architecture {architecture!r}; "
                         f"valid layers: {list(layers)}")
    return layers[layer]


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` fails clearly without a GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but torch sees no CUDA device "
                           "(set device: auto or cpu)")
    return torch.device(device)


# --------------------------------------------------------------------------- training


@dataclass
class TrainingRecord:
    """What training did and reached (saved in the model's JSON sidecar)."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    seed: int
    train_images: int
    heldout_images: int
    train_accuracy: float
    heldout_accuracy: float
    loss_by_epoch: list[float]
    seconds: float
    device: str


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255)


@torch.no_grad()
def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, device: torch.device,
             batch_size: int = 512) -> float:
    """Top-1 accuracy of ``model`` on uint8 images."""
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        x = _to_tensor(images[start:start + batch_size]).to(device)
        predicted = model(x).argmax(1).cpu().numpy()
        correct += int((predicted == labels[start:start + batch_size]).sum())
    return correct / max(len(images), 1)


def train_classifier(model: nn.Module, train: tuple[np.ndarray, np.ndarray],
                     heldout: tuple[np.ndarray, np.ndarray], *, epochs: int, batch_size: int,
                     learning_rate: float, weight_decay: float, seed: int,
                     device: torch.device, augment_shift: int = 2) -> TrainingRecord:
    """Train a classifier with AdamW + one-cycle schedule; deterministic given ``seed``.

    Parameters
    ----------
    model
        Untrained model taking [0, 1] RGB input.
    train, heldout
        ``(uint8 images (N, H, W, 3), labels (N,))``.
    epochs, batch_size, learning_rate, weight_decay
        Optimisation settings.
    seed
        Seeds initialisation order, shuffling and augmentation.
    device
        Where to train.
    augment_shift
        Random translation of up to this many pixels (0 disables augmentation).
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    images, labels = _to_tensor(train[0]), torch.from_numpy(train[1].astype(np.int64))
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps = epochs * ((len(images) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate,
                                                   total_steps=max(steps, 1))
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in tqdm(range(epochs), desc="train", unit="epoch"):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        for start in range(0, len(images), batch_size):
            index = order[start:start + batch_size]
            x = images[index]
            if augment_shift:
                shift = torch.randint(-augment_shift, augment_shift + 1, (2,),
                                      generator=generator)
                x = torch.roll(x, shifts=(int(shift[0]), int(shift[1])), dims=(2, 3))
            x, y = x.to(device), labels[index].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(index)
        losses.append(total / len(images))
    return TrainingRecord(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        weight_decay=weight_decay, seed=seed, train_images=len(images),
        heldout_images=len(heldout[0]),
        train_accuracy=accuracy(model, train[0], train[1], device),
        heldout_accuracy=accuracy(model, heldout[0], heldout[1], device),
        loss_by_epoch=losses, seconds=time.perf_counter() - started, device=str(device),
    )


# --------------------------------------------------------------------------- saving


def sidecar_path(weights_path: str | os.PathLike) -> Path:
    """The JSON sidecar beside a weights file (``seed-0.pt`` → ``seed-0.json``)."""
    return Path(weights_path).with_suffix(".json")


def save_model(model: nn.Module, weights_path: str | os.PathLike, metadata: dict[str, Any]) -> None:
    """Save a state_dict and its JSON sidecar, each written whole then renamed into place.

    The sidecar is written last: a weights file without its sidecar is incomplete.
    """
    from topoact.store import atomic_file, write_json

    with atomic_file(weights_path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    write_json(sidecar_path(weights_path), metadata, indent=2)


def load_model(weights_path: str | os.PathLike, device: torch.device | str = "cpu"
               ) -> tuple[nn.Module, dict[str, Any]]:
    """Load a model saved by :func:`save_model` (weights with ``weights_only=True``).

    Returns
    -------
    model, metadata
        The model in eval mode on ``device`` and the sidecar's contents.
    """
    weights_path = Path(weights_path)
    side = sidecar_path(weights_path)
    if not side.exists():
        raise FileNotFoundError(f"{side}: model sidecar missing (expected beside {weights_path})")
    metadata = json.loads(side.read_text())
    architecture = get_architecture(metadata["architecture"])
    model = architecture.build(int(metadata["num_classes"]))
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval(), metadata


@torch.no_grad()
def layer_shapes(model: nn.Module, layers: dict[str, str], input_size: int) -> dict[str, list[int]]:
    """Activation shape (without batch) of each named layer, from one forward pass."""
    shapes: dict[str, list[int]] = {}
    handles = []
    modules = dict(model.named_modules())
    for name, path in layers.items():
        def hook(_module, _inputs, output, name=name):
            shapes[name] = list(output.shape[1:])
        handles.append(modules[path].register_forward_hook(hook))
    try:
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        model(torch.zeros(1, 3, input_size, input_size, device=device))
        model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def train_from_store(images_path: str | os.PathLike, architecture: str, *, seed: int,
                     epochs: int, batch_size: int, learning_rate: float, weight_decay: float,
                     device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """Train an architecture on an images store's train split; evaluate on its test split.

    Returns
    -------
    model, metadata
        The trained model and the sidecar contents (architecture, classes, layer names
        with their module paths and activation shapes, training record).
    """
    from topoact import store

    torch.manual_seed(seed)
    group = store.open_store(images_path, "images")
    info = store.image_store_info(group)
    for split in ("train", "test"):
        if split not in info.splits:
            raise store.StoreError(f"{images_path}: a model is trained on the 'train' split and "
                                   f"evaluated on 'test'; the store has {sorted(info.splits)}")
    pixels, labels = group["images"][:], group["labels"][:]
    (a, b), (c, d) = info.splits["train"], info.splits["test"]
    arch = get_architecture(architecture)
    model = arch.build(len(info.classes))
    record = train_classifier(model, (pixels[a:b], labels[a:b]), (pixels[c:d], labels[c:d]),
                              epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                              weight_decay=weight_decay, seed=seed, device=device)
    shapes = layer_shapes(model, arch.layers, arch.input_size)
    metadata = {
        "architecture": arch.name,
        "num_classes": len(info.classes),
        "classes": info.classes,
        "input_size": arch.input_size,
        "layers": {name: {"module": path, "shape": shapes[name]}
                   for name, path in arch.layers.items()},
        "training": vars(record),
        **store.provenance({"architecture": arch.name, "epochs": epochs, "batch_size": batch_size,
                            "learning_rate": learning_rate, "weight_decay": weight_decay},
                           {"images": str(images_path)}, seed),
    }
    return model, metadata
