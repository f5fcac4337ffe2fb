"""The built-in architectures: the small CNN of the embedded default and torchvision's
networks, each wrapped with its own input normalization, with readable layer names."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from topoact.layers import (
    IMAGENET_WEIGHTS,
    LAYER_TABLES,
    LayerTable,
    get_layer_table,
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


def find_module(model: nn.Module, module_path: str) -> nn.Module:
    """The module at a dotted path, or an error naming the nearest paths."""
    modules = dict(model.named_modules())
    if module_path in modules:
        return modules[module_path]
    nearest = difflib.get_close_matches(module_path, [m for m in modules if m], n=5)
    raise ValueError(f"model has no module {module_path!r}; nearest: {nearest or 'none'} "
                     "(`topoact layers` lists them all)")
