"""Training a classifier on arrays of images: the loop, its accuracy and its record."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from topoact.models.registry import Architecture


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
                     device: torch.device, augment_shift: int = 2,
                     snapshots: Sequence[int] = (),
                     on_snapshot: Callable[[int], None] | None = None,
                     evaluate: bool = True) -> TrainingRecord:
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
    snapshots, on_snapshot
        ``on_snapshot(i)`` is called after optimiser step i for every i in ``snapshots``
        (0: before the first step). It may copy weights but must not draw random
        numbers: the training is the same with or without snapshots.
    evaluate
        Measure train and held-out accuracy at the end (NaN when False).

    Raises
    ------
    ValueError
        For a snapshot past the last step.
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    images, labels = _to_tensor(train[0]), torch.from_numpy(train[1].astype(np.int64))
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps = epochs * ((len(images) + batch_size - 1) // batch_size)
    snapshots = sorted({int(i) for i in snapshots})
    if snapshots and (snapshots[0] < 0 or snapshots[-1] > steps):
        raise ValueError(f"snapshot iterations {snapshots} must lie in [0, {steps}]: training "
                         f"has {steps} steps ({epochs} epochs of batch {batch_size})")
    step = 0
    if on_snapshot is not None and 0 in snapshots:
        on_snapshot(0)
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
            step += 1
            if on_snapshot is not None and step in snapshots:
                on_snapshot(step)
            total += loss.item() * len(index)
        losses.append(total / len(images))
    return TrainingRecord(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        weight_decay=weight_decay, seed=seed, train_images=len(images),
        heldout_images=len(heldout[0]),
        train_accuracy=accuracy(model, train[0], train[1], device) if evaluate else float("nan"),
        heldout_accuracy=(accuracy(model, heldout[0], heldout[1], device) if evaluate
                          else float("nan")),
        loss_by_epoch=losses, seconds=time.perf_counter() - started, device=str(device),
    )


@torch.no_grad()
def check_logits(model: nn.Module, arch: Architecture, num_classes: int) -> None:
    """Refuse to train a model whose output is not one logit per class."""
    was_training = model.training
    model.eval()
    output = model(torch.zeros(2, 3, arch.input_size, arch.input_size))
    model.train(was_training)
    if not torch.is_tensor(output) or tuple(output.shape) != (2, num_classes):
        shape = tuple(output.shape) if torch.is_tensor(output) else type(output).__name__
        raise ValueError(f"architecture {arch.name!r} outputs {shape} for a batch of 2; the "
                         f"workflow trains models with one logit per class ({num_classes}); "
                         "give weights: PATH to use it as it is")
