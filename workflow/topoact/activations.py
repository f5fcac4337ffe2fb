"""Activation extraction: forward hooks, batched, sampled on the device, streamed to zarr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from topoact import models
from topoact import sampling as sampling_mod


class _LayerReached(Exception):
    """Raised by the hook to skip the layers after the one being extracted."""


@contextmanager
def capture_layer(model: nn.Module, module_path: str, stop: bool = True) -> Iterator[dict]:
    """Capture a module's output during forward passes.

    Parameters
    ----------
    model
        The network.
    module_path
        Dotted path of the module (as in ``model.named_modules()``).
    stop
        Abort the forward pass once the output is captured: the layers after it are
        not needed, so extraction from early layers costs less than a full pass.

    Yields
    ------
    dict
        ``captured["output"]`` holds the latest output after each :func:`run_to_layer`.
    """
    module = models.find_module(model, module_path)
    captured: dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output):
        captured["output"] = output
        if stop:
            raise _LayerReached

    scripted = _scripted_owner(model, module_path)
    if scripted is not None:  # a TorchScript module takes no Python hooks: tap it instead
        with _script_tap(model, *scripted, lambda output: hook(None, None, output)):
            yield captured
        return
    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def _scripted_owner(model: nn.Module, module_path: str) -> tuple[str, str] | None:
    """(path of the TorchScript module that holds ``module_path``, the rest of the path),
    or None when no TorchScript module is on the way."""
    parts = module_path.split(".")
    for k in range(len(parts)):
        prefix = ".".join(parts[:k])
        owner = model.get_submodule(prefix) if prefix else model
        if isinstance(owner, torch.jit.ScriptModule):
            return prefix, ".".join(parts[k:])
    return None


@contextmanager
def _script_tap(model: nn.Module, prefix: str, rest: str, on_output) -> Iterator[None]:
    """Put a :class:`topoact.models.ScriptTap` in place of the TorchScript module at
    ``prefix`` for the duration of the block (the model itself cannot be replaced)."""
    if not prefix:
        raise ValueError("a TorchScript model is captured behind a Python wrapper (give it "
                         "a normalize, or wrap it)")
    parent_path, _, name = prefix.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    scripted = getattr(parent, name)
    setattr(parent, name, models.ScriptTap(scripted, rest, on_output))
    try:
        yield
    finally:
        setattr(parent, name, scripted)


def run_to_layer(model: nn.Module, x: torch.Tensor, captured: dict) -> torch.Tensor:
    """Forward ``x`` until the captured layer and return its output."""
    try:
        model(x)
    except _LayerReached:
        pass
    return captured.pop("output")


def image_batches(images, start: int, stop: int, batch_size: int
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """``(first index, uint8 batch)`` from an images array, in index order."""
    for first in range(start, stop, batch_size):
        yield first, images[first:min(first + batch_size, stop)]


def to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, 3) → float (B, 3, H, W) in [0, 1] on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True)
    return x.permute(0, 3, 1, 2).float().div_(255)


@dataclass(frozen=True)
class ExtractionSettings:
    """Scalar settings of one extraction job."""

    sampling: str
    seed: int = 0
    border: int = 1
    split: str = "all"
    batch_size: int = 128
    chunk_bytes: int = 4 << 20
    noise_sigma: float = 0.0
    noise_seed: int = 0
    skip_tokens: int = 0  # leading tokens left out of a (B, N, C) layer


def add_noise(x: torch.Tensor, sigma: float, seed: int, first: int) -> torch.Tensor:
    """Gaussian noise of standard deviation ``sigma`` on [0, 1] pixels, clipped to [0, 1].

    Image ``first + k`` of the batch gets the noise drawn from (``seed``, its index), so
    an image's noise does not depend on the batch size or the device.
    """
    if sigma <= 0:
        return x
    noise = torch.stack([
        torch.randn(x.shape[1:], generator=torch.Generator().manual_seed(
            seed * 1_000_003 + first + k)) for k in range(len(x))])
    return (x + sigma * noise.to(x.device, x.dtype)).clamp_(0, 1)


def noisy_examples(images: np.ndarray, sigmas: list[float], seed: int
                   ) -> list[tuple[float, np.ndarray]]:
    """The images clean and at each σ, as extraction sees them: (σ, (n, H, W, 3) in [0, 1]).

    ``images`` are the first uint8 (n, H, W, 3) images of a store: the noise of image k is
    the one :func:`add_noise` gives the store's image k.
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    return [(sigma, add_noise(x.clone(), sigma, seed, 0).permute(0, 2, 3, 1).numpy())
            for sigma in [0.0, *sigmas]]


@dataclass(frozen=True)
class LayerGeometry:
    """What one image tells of a layer before anything is written."""

    raw_shape: tuple[int, ...]  # the layer's output per image, as the network gives it
    channels: int
    height: int
    width: int


@torch.no_grad()
def probe_layer(model: nn.Module, module_path: str, image: np.ndarray, skip_tokens: int,
                device: torch.device) -> LayerGeometry:
    """The layer's shape from one uint8 (1, H, W, 3) image (``model`` on ``device``)."""
    with capture_layer(model, module_path) as captured:
        raw = run_to_layer(model, to_input(image, device), captured)
    _, channels, height, width = sampling_mod.as_spatial(raw, skip_tokens, module_path).shape
    return LayerGeometry(tuple(raw.shape[1:]), channels, height, width)


@dataclass(frozen=True)
class ActivationBatch:
    """The sampled points of one batch of images, and where each came from."""

    first: int  # index of the batch's first image
    count: int  # images in the batch
    points: np.ndarray  # (P, C) float32
    image: np.ndarray  # (P,) int32 image index
    position: np.ndarray  # (P, 2) int16 (row, column)
    label: np.ndarray  # (P,) the images' labels


@torch.no_grad()
def activation_batches(model: nn.Module, module_path: str, images, labels: np.ndarray,
                       start: int, stop: int, settings: ExtractionSettings,
                       device: torch.device, scorer=None) -> Iterator[ActivationBatch]:
    """One layer's activations under one sampling, a batch of images at a time.

    Parameters
    ----------
    model
        The network, taking [0, 1] RGB input, on ``device`` in eval mode.
    module_path
        Module whose output is the layer's activation.
    images, labels
        uint8 (N, H, W, 3) images (any array read by slices: a store's array) and their
        labels; images ``start … stop − 1`` are extracted.
    settings
        Sampling, seed, border, batch size, noise.
    scorer
        A :class:`topoact.foreground.PositionScorer` (masks + receptive fields of this
        layer), required by the ``foreground-top{p}`` / ``background-top{p}`` samplings.
    """
    with capture_layer(model, module_path) as captured:
        for first, batch in image_batches(images, start, stop, settings.batch_size):
            x = add_noise(to_input(batch, device), settings.noise_sigma, settings.noise_seed,
                          first)
            output = sampling_mod.as_spatial(run_to_layer(model, x, captured),
                                             settings.skip_tokens, module_path)
            index = np.arange(first, first + len(batch))
            scores = scorer.scores(first, len(batch)) if scorer is not None else None
            b, rows, cols = sampling_mod.select_positions(
                output, settings.sampling, index, settings.seed, settings.border, scores)
            points = sampling_mod.gather_points(output, b, rows, cols).float().cpu().numpy()
            b, rows, cols = b.cpu().numpy(), rows.cpu().numpy(), cols.cpu().numpy()
            yield ActivationBatch(first, len(batch), points, index[b].astype(np.int32),
                                  np.stack([rows, cols], axis=1).astype(np.int16),
                                  labels[index[b]])
