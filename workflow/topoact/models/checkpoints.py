"""Model files: weights with their JSON sidecar (architecture, classes, layers with their
shapes), given checkpoints and ImageNet weights loaded into the wrapped networks, and
the module paths and shapes a model shows."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from topoact.files import atomic_file, write_json
from topoact.models.registry import Architecture, get_architecture, imagenet_pretrained
from topoact.models.user import architecture_of, scripted_output


def load_checkpoint(architecture: str, path: str | os.PathLike, num_classes: int) -> nn.Module:
    """An architecture with a user checkpoint: a state_dict of the torchvision network
    (or of this package's wrapped model), or a dict holding one under ``state_dict``."""
    model = get_architecture(architecture).build(num_classes)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: checkpoint not found") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    target = model if any(k.startswith("net.") for k in state) else getattr(model, "net", model)
    try:
        missing, unexpected = target.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise ValueError(f"{path}: not a {architecture} checkpoint with {num_classes} "
                         f"classes ({str(error).splitlines()[-1].strip()})") from None
    if missing or unexpected:
        raise ValueError(f"{path}: not a {architecture} checkpoint with {num_classes} classes "
                         f"(missing keys {missing[:3]}, unexpected keys {unexpected[:3]})")
    return model.eval()


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a state_dict file (``weights_only=True``) into a model, strictly.

    Raises
    ------
    ValueError
        For a pickled whole module (refused: unpickling runs arbitrary code), a file that
        is not a state_dict, or missing / unexpected keys (the first few are listed).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: weights file not found") from None
    except pickle.UnpicklingError:
        raise ValueError(f"{path}: not a state_dict; a pickled whole module is refused "
                         "because loading it runs arbitrary code. Save "
                         "`torch.save(model.state_dict(), path)` instead") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds a {type(state).__name__}, not a state_dict")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: does not fit the model: missing keys {missing[:5]}, "
                         f"unexpected keys {unexpected[:5]}")
    return model


def sidecar_path(weights_path: str | os.PathLike) -> Path:
    """The JSON sidecar beside a weights file (``seed-0.pt`` → ``seed-0.json``)."""
    return Path(weights_path).with_suffix(".json")


def save_model(model: nn.Module, weights_path: str | os.PathLike, metadata: dict[str, Any]) -> None:
    """Save a state_dict and its JSON sidecar, each written whole then renamed into place.

    The sidecar is written last: a weights file without its sidecar is incomplete.
    """
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
    architecture = architecture_of(metadata.get("spec") or metadata["architecture"])
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


@torch.no_grad()
def module_shapes(model: nn.Module, input_size: int, prefix: str = ""
                  ) -> list[tuple[str, str, str]]:
    """Every module under ``prefix`` with its type and output shape (without the batch
    axis), in the order the forward pass reaches them (one dry pass; never-called modules
    last, shape ``-``). Paths are given without the prefix, as users write them."""
    scripted = model.get_submodule(prefix.rstrip(".")) if prefix else model
    if isinstance(scripted, torch.jit.ScriptModule):
        return _scripted_shapes(model, scripted, input_size, prefix)
    order: dict[str, str] = {}
    handles = []
    for path, module in model.named_modules():
        if path and path.startswith(prefix) and path != prefix.rstrip("."):
            def hook(_module, _inputs, output, path=path):
                shape = tuple(output.shape[1:]) if torch.is_tensor(output) else \
                    type(output).__name__
                order.setdefault(path, str(shape))
            handles.append(module.register_forward_hook(hook))
    try:
        model.eval()(torch.zeros(1, 3, input_size, input_size))
    finally:
        for handle in handles:
            handle.remove()
    types = {path: type(m).__name__ for path, m in model.named_modules()}
    rows = [(path[len(prefix):], types[path], shape) for path, shape in order.items()]
    called = set(order)
    rows += [(path[len(prefix):], types[path], "-") for path in types
             if path.startswith(prefix) and path and path not in called
             and path != prefix.rstrip(".")]
    return rows


@torch.no_grad()
def _scripted_shapes(model: nn.Module, scripted: torch.jit.ScriptModule, input_size: int,
                     prefix: str) -> list[tuple[str, str, str]]:
    """:func:`module_shapes` of a TorchScript network: each path's output by a tap (its
    compiled forward cut at that call); paths its forward never calls get ``-``."""
    x = torch.zeros(1, 3, input_size, input_size)
    if prefix:  # the input normalization in front of the network
        x = getattr(model, "normalize", nn.Identity())(x)
    rows = []
    for path, module in scripted.named_modules():
        if not path:
            continue
        try:
            output = scripted_output(scripted, path, x)
            shape = str(tuple(output.shape[1:])) if torch.is_tensor(output) else \
                type(output).__name__
        except (ValueError, RuntimeError):
            shape = "-"
        rows.append((path, module.original_name, shape))
    return rows


def model_metadata(model: nn.Module, arch: Architecture, classes: list[str],
                   training: dict[str, Any] | None, provenance: dict[str, Any]
                   ) -> dict[str, Any]:
    """A model's sidecar: architecture, classes, input size, layers with their module paths
    and activation shapes (from one forward pass), training record and provenance."""
    shapes = layer_shapes(model, arch.layers, arch.input_size)
    return {
        "architecture": arch.name, "spec": arch.spec,
        "num_classes": len(classes), "classes": list(classes),
        "input_size": arch.input_size,
        "layers": {name: {"module": path, "shape": shapes[name]}
                   for name, path in arch.layers.items()},
        "training": training,
        **provenance,
    }


def save_imagenet_weights(architecture: str, path: str | os.PathLike) -> None:
    """Download torchvision's ImageNet weights of ``architecture`` and save them (the
    wrapped state_dict) with a JSON sidecar of the class names (rule download_weights)."""
    model, classes = imagenet_pretrained(architecture)
    save_model(model, path, {"architecture": architecture, "num_classes": len(classes),
                             "classes": classes, "source": "torchvision ImageNet weights"})


@torch.no_grad()
def _output_width(model: nn.Module, input_size: int) -> int:
    """The number of outputs of a model (its classes when it is a classifier)."""
    output = model.eval()(torch.zeros(1, 3, input_size, input_size))
    return int(output.reshape(1, -1).shape[1]) if torch.is_tensor(output) else 0
