"""Models: the architecture registry (readable layer names), training, saving, loading.

Every model takes RGB images in [0, 1] (N, 3, H, W) and applies its own input
normalization first, so activation extraction and feature visualization feed the
same pixels whatever the architecture.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from topoact import store
from topoact.layers import (
    IMAGENET_WEIGHTS,
    LAYER_TABLES,
    TORCHSCRIPT,
    LayerTable,
    get_layer_table,
    is_user_architecture,
    user_layer_table,
)


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
class Architecture(LayerTable):
    """A model family the workflow knows: its :class:`~topoact.layers.LayerTable` and
    ``build(num_classes)``, which returns an untrained :class:`torch.nn.Module`."""
    build: Callable[[int], nn.Module] | None = None

    def network(self, model: nn.Module) -> nn.Module:
        """The network as users know it inside a built model (behind the normalization)."""
        return model.get_submodule(self.prefix.rstrip(".")) if self.prefix else model


# --------------------------------------------------------------------------- torchvision networks

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class WithNormalize(nn.Module):
    """A torchvision network behind its input normalization, so it takes [0, 1] RGB.

    The network is ``self.net``: layer module paths start with ``net.``.
    """

    def __init__(self, net: nn.Module, mean: tuple[float, ...] = IMAGENET_MEAN,
                 std: tuple[float, ...] = IMAGENET_STD):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def build_resnet18(num_classes: int) -> nn.Module:
    from torchvision.models import resnet18

    return WithNormalize(resnet18(weights=None, num_classes=num_classes))


def build_resnet18_cifar(num_classes: int) -> nn.Module:
    """ResNet-18 for 32 px images (Purvine et al.'s CIFAR-10 model): a 3×3 stride-1 stem
    and no max pooling, the usual CIFAR adaptation."""
    from torchvision.models import resnet18

    net = resnet18(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return WithNormalize(net, CIFAR10_MEAN, CIFAR10_STD)


def build_googlenet(num_classes: int) -> nn.Module:
    from torchvision.models import googlenet

    # transform_input: the pretrained weights expect it (ImageNet-normalised input in).
    return WithNormalize(googlenet(weights=None, num_classes=num_classes, aux_logits=False,
                                   transform_input=True, init_weights=True))


def build_inception_v3(num_classes: int) -> nn.Module:
    from torchvision.models import inception_v3

    return WithNormalize(inception_v3(weights=None, num_classes=num_classes, aux_logits=False,
                                      transform_input=True, init_weights=True))


def build_alexnet(num_classes: int) -> nn.Module:
    from torchvision.models import alexnet

    return WithNormalize(alexnet(weights=None, num_classes=num_classes))


BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "small-cnn": SmallCNN, "resnet18": build_resnet18, "resnet18-cifar10": build_resnet18_cifar,
    "googlenet": build_googlenet, "inception_v3": build_inception_v3, "alexnet": build_alexnet}

ARCHITECTURES: dict[str, Architecture] = {
    name: Architecture(**vars(table), build=BUILDERS[name]) for name, table in LAYER_TABLES.items()}


def get_architecture(name: str) -> Architecture:
    """Look up an architecture, with an error listing the known ones."""
    get_layer_table(name)
    return ARCHITECTURES[name]


def imagenet_pretrained(architecture: str) -> tuple[nn.Module, list[str]]:
    """An architecture with torchvision's ImageNet weights (downloaded once into torch's
    cache: run where there is network) and the ImageNet class names."""
    import torchvision.models as tv

    if architecture not in IMAGENET_WEIGHTS:
        raise ValueError(f"no ImageNet weights for {architecture!r}; architectures with "
                         f"them: {sorted(IMAGENET_WEIGHTS)}")
    weights = getattr(tv, IMAGENET_WEIGHTS[architecture]).DEFAULT
    constructor = getattr(tv, architecture)
    extra = {"aux_logits": False} if architecture in ("googlenet", "inception_v3") else {}
    net = constructor(weights=weights, progress=True, **extra)
    return WithNormalize(net), list(weights.meta["categories"])


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


def _import_callable(spec: str) -> Callable[..., Any]:
    """The callable an import path ``package.module:name`` names (the working directory is
    searched first, as a user's model file sits beside their config)."""
    module_name, _, attribute = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"architecture {spec!r}: cannot import {module_name!r} ({error}); "
                         "the module must be importable from the working directory or the "
                         "installed environment") from None
    if not callable(getattr(module, attribute, None)):
        raise ValueError(f"architecture {spec!r}: {module_name!r} has no callable "
                         f"{attribute!r}")
    return getattr(module, attribute)


def _user_network(spec: dict) -> nn.Module:
    """Build a user model's network from its config entry (no input normalization)."""
    name, kwargs = spec["architecture"], dict(spec.get("kwargs") or {})
    if name == TORCHSCRIPT:
        if not spec.get("weights"):
            raise ValueError("architecture torchscript needs weights: the TorchScript file")
        try:
            return torch.jit.load(spec["weights"], map_location="cpu")
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"{spec['weights']}: not a TorchScript file ({error})") from None
    if name.startswith("timm:"):
        try:
            import timm
        except ImportError:
            raise ValueError(f"architecture {name!r} needs timm: pip install -e '.[timm]'"
                             ) from None
        # kwargs: {pretrained: true} takes timm's weights (downloaded: needs the network)
        pretrained = bool(kwargs.pop("pretrained", False))
        network = timm.create_model(name[len("timm:"):], pretrained=pretrained, **kwargs)
    else:
        build = _import_callable(name)
        try:
            network = build(**kwargs)
        except TypeError as error:  # most often kwargs the callable does not take
            raise ValueError(f"architecture {name!r} called with kwargs {kwargs}: {error}"
                             ) from None
    if not isinstance(network, nn.Module):
        raise ValueError(f"architecture {name!r} returned {type(network).__name__}, not a "
                         "torch.nn.Module")
    return network


def user_architecture(spec: dict) -> Architecture:
    """The :class:`Architecture` of a user model's config entry: its network (built by
    the import path's callable with ``kwargs``, by timm, or loaded from a TorchScript
    file) behind ``normalize`` when it has one; layers are module paths of the network."""
    table = user_layer_table(spec)
    normalize = spec.get("normalize")
    scripted = spec["architecture"] == TORCHSCRIPT

    def build(num_classes: int) -> nn.Module:  # the network sets its own class count
        network = _user_network(spec)
        if normalize is None and scripted:  # captures need a Python module around it
            return WithNormalize(network, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        if normalize is None:
            return network
        return WithNormalize(network, tuple(normalize["mean"]), tuple(normalize["std"]))

    return Architecture(**vars(table), build=build)


def _call_chain(node, self_value) -> list[str] | None:
    """The attribute path a ``prim::CallMethod`` node's module comes from (``["layers",
    "0"]`` for ``self.layers[0]``), or None when it is not an attribute of ``self``."""
    chain, value = [], node.inputsAt(0)
    while value.unique() != self_value.unique():
        owner = value.node()
        if owner.kind() != "prim::GetAttr":
            return None
        chain.insert(0, owner.s("name"))
        value = owner.inputsAt(0)
    return chain


def _call_inputs(module, path: list[str], args: tuple) -> tuple[int, tuple]:
    """Run a TorchScript module's forward up to its first call of a submodule on ``path``
    (a prefix of it); return how many path parts that call covers and its inputs."""
    graph = module.forward.graph.copy()
    self_value = next(graph.inputs())
    for node in graph.nodes():
        if node.kind() != "prim::CallMethod" or node.s("name") != "forward":
            continue
        chain = _call_chain(node, self_value)
        if chain and path[:len(chain)] == chain:
            inputs = list(node.inputs())[1:]
            while list(graph.outputs()):
                graph.eraseOutput(0)
            packed = graph.create("prim::TupleConstruct", inputs, 1)
            packed.output().setType(torch._C.TupleType([v.type() for v in inputs]))
            graph.insertNode(packed)
            packed.moveAfter(node)
            graph.registerOutput(packed.output())
            torch._C._jit_pass_dce(graph)
            tap = torch._C._create_function_from_graph("tap", graph)
            return len(chain), tuple(tap(module._c, *args))
    raise ValueError(f"the TorchScript module's forward never calls {'.'.join(path)!r}")


def scripted_output(module: torch.jit.ScriptModule, path: str, *args) -> Any:
    """The output of the submodule at ``path`` of a TorchScript module run on ``args``.

    A loaded TorchScript module cannot take Python hooks; instead its compiled forward is
    copied and cut at the call of the submodule (``prim::CallMethod``), giving that call's
    inputs, and the submodule is run on them (descending level by level).
    """
    parts = path.split(".")
    while parts:
        covered, args = _call_inputs(module, parts, args)
        for part in parts[:covered]:
            module = getattr(module, part)
        parts = parts[covered:]
    return module(*args)


class ScriptTap(nn.Module):
    """Stands in for a TorchScript module during a capture: runs it to ``path``, hands
    the output to ``on_output`` (which may stop the pass), else runs the whole module."""

    def __init__(self, scripted: torch.jit.ScriptModule, path: str, on_output):
        super().__init__()
        self.scripted, self.path, self.on_output = scripted, path, on_output

    def forward(self, *args):
        self.on_output(scripted_output(self.scripted, self.path, *args))
        return self.scripted(*args)


def architecture_of(model: dict | str) -> Architecture:
    """The architecture of a model's config entry (or of a built-in's name)."""
    name = model if isinstance(model, str) else model["architecture"]
    if isinstance(model, dict) and is_user_architecture(name):
        return user_architecture(model)
    return get_architecture(name)


def find_module(model: nn.Module, module_path: str) -> nn.Module:
    """The module at a dotted path, or an error naming the nearest paths."""
    modules = dict(model.named_modules())
    if module_path in modules:
        return modules[module_path]
    nearest = difflib.get_close_matches(module_path, [m for m in modules if m], n=5)
    raise ValueError(f"model has no module {module_path!r}; nearest: {nearest or 'none'} "
                     "(`topoact layers` lists them all)")


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


# --------------------------------------------------------------------------- saving


def sidecar_path(weights_path: str | os.PathLike) -> Path:
    """The JSON sidecar beside a weights file (``seed-0.pt`` → ``seed-0.json``)."""
    return Path(weights_path).with_suffix(".json")


def save_model(model: nn.Module, weights_path: str | os.PathLike, metadata: dict[str, Any]) -> None:
    """Save a state_dict and its JSON sidecar, each written whole then renamed into place.

    The sidecar is written last: a weights file without its sidecar is incomplete.
    """
    with store.atomic_file(weights_path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    store.write_json(sidecar_path(weights_path), metadata, indent=2)


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
