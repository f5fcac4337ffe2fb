"""Layer names of the architectures the workflow knows, without importing torch.

The workflow's parse (every ``snakemake -n``, every cluster job) needs a model's layer
names, module paths and input size; building the model needs torch. The names live here;
:mod:`topoact.models` pairs each table with the function that builds the network.
"""

from __future__ import annotations

from dataclasses import dataclass

#: A user architecture loaded from a TorchScript file (``weights:`` names the file).
TORCHSCRIPT = "torchscript"

#: torchvision's pretrained ImageNet weights of each architecture (``weights: imagenet``).
IMAGENET_WEIGHTS = {"resnet18": "ResNet18_Weights", "googlenet": "GoogLeNet_Weights",
                    "inception_v3": "Inception_V3_Weights", "alexnet": "AlexNet_Weights"}

#: TopoAct's InceptionV1 layer names → torchvision GoogLeNet's inception blocks.
GOOGLENET_MIXED = {f"mixed{block}": f"net.inception{block}"
                   for block in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")}
INCEPTION_V3_MIXED = {name: f"net.{name}" for name in (
    "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
    "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")}


@dataclass(frozen=True)
class LayerTable:
    """What the workflow knows of an architecture before building it.

    Attributes
    ----------
    name
        Registry key (the ``architecture`` of a model in the config).
    layers
        Readable layer name to the module path whose output is the layer's activation
        (empty for a user model: its layers are module paths).
    input_size
        Side of the square RGB input the model expects.
    prefix
        Module paths of the network as users know it start here in the built model
        (``net.`` behind an input normalization): ``layer3.1.conv2`` is
        ``net.layer3.1.conv2``.
    spec
        For a user model, its config entry (architecture, kwargs, input_size, normalize).
    """

    name: str
    layers: dict[str, str]
    input_size: int
    description: str = ""
    prefix: str = ""
    spec: dict | None = None


def resnet18_conv_layers(prefix: str = "net.") -> dict[str, str]:
    """The 17 convolutional layers of ResNet-18 numbered as in Purvine et al.: ``conv1`` is
    the stem, ``conv2``–``conv17`` the two convolutions of each of the 8 basic blocks in
    order (the raw convolution outputs, before batch norm and ReLU)."""
    layers = {"conv1": f"{prefix}conv1"}
    number = 2
    for stage in range(1, 5):
        for block in range(2):
            for conv in (1, 2):
                layers[f"conv{number}"] = f"{prefix}layer{stage}.{block}.conv{conv}"
                number += 1
    return layers


def _resnet18_layers() -> dict[str, str]:
    return {**resnet18_conv_layers(), **{f"layer{k}": f"net.layer{k}" for k in range(1, 5)},
            "avgpool": "net.avgpool", "fc": "net.fc"}


LAYER_TABLES: dict[str, LayerTable] = {table.name: table for table in (
    LayerTable(
        name="small-cnn",
        layers={"conv1": "conv1", "conv2": "conv2", "conv3": "conv3", "conv4": "conv4",
                "fc1": "fc1", "logits": "logits"},
        input_size=32,
        description="4 conv blocks + 2 linear layers, trained by the workflow (embedded default)"),
    LayerTable(
        name="resnet18", prefix="net.", layers=_resnet18_layers(), input_size=224,
        description="torchvision ResNet-18 (ImageNet); conv1–conv17 as in Purvine et al."),
    LayerTable(
        name="resnet18-cifar10", prefix="net.", layers=_resnet18_layers(), input_size=32,
        description="ResNet-18 for 32 px input (Purvine et al.'s CIFAR-10 model), trained by "
                    "the workflow"),
    LayerTable(
        name="googlenet", prefix="net.",
        layers={"conv1": "net.conv1", "conv2": "net.conv2", "conv3": "net.conv3",
                **GOOGLENET_MIXED, "avgpool": "net.avgpool", "fc": "net.fc"},
        input_size=224,
        description="torchvision GoogLeNet (InceptionV1); TopoAct's mixed3a–mixed5b are its "
                    "inception blocks"),
    LayerTable(
        name="inception_v3", prefix="net.",
        layers={**INCEPTION_V3_MIXED, "avgpool": "net.avgpool", "fc": "net.fc"},
        input_size=299, description="torchvision Inception-v3"),
    LayerTable(
        name="alexnet", prefix="net.",
        layers={"conv1": "net.features.1", "conv2": "net.features.4", "conv3": "net.features.7",
                "conv4": "net.features.9", "conv5": "net.features.11",
                "fc6": "net.classifier.2", "fc7": "net.classifier.5", "fc8": "net.classifier.6"},
        input_size=224,
        description="torchvision AlexNet; conv1–conv5 after their ReLU, fc6/fc7 after ReLU"),
)}


def is_user_architecture(name: str) -> bool:
    """``package.module:callable``, ``timm:name`` or ``torchscript`` (not a built-in)."""
    return ":" in name or name == TORCHSCRIPT


def get_layer_table(name: str) -> LayerTable:
    """A built-in architecture's table, with an error listing the known ones."""
    if name not in LAYER_TABLES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(LAYER_TABLES)}")
    return LAYER_TABLES[name]


USER_SPEC_KEYS = ("architecture", "kwargs", "input_size", "normalize", "weights")


def user_layer_table(spec: dict) -> LayerTable:
    """The table of a user model's config entry: layers are module paths of its network,
    under ``net.`` when the model is wrapped (a normalization, or a TorchScript file)."""
    if not spec.get("input_size"):
        raise ValueError(f"model with architecture {spec['architecture']!r}: input_size is "
                         "required for a user model")
    wrapped = spec.get("normalize") is not None or spec["architecture"] == TORCHSCRIPT
    return LayerTable(name=spec["architecture"], layers={}, input_size=int(spec["input_size"]),
                      prefix="net." if wrapped else "",
                      spec={k: spec.get(k) for k in USER_SPEC_KEYS},
                      description="a user model (layers are module paths)")


def layer_table_of(model: dict | str) -> LayerTable:
    """The table of a model's config entry (or of a built-in's name)."""
    name = model if isinstance(model, str) else model["architecture"]
    if isinstance(model, dict) and is_user_architecture(name):
        return user_layer_table(model)
    return get_layer_table(name)


def layer_module(model: dict | str, layer: str) -> str:
    """Module path of a layer: a built-in's readable name, else a module path of the
    network as the user knows it (``layer3.1.conv2``), under the model's prefix.

    Raises
    ------
    ValueError
        For a built-in, if the layer is not one of its readable names (the message lists
        them); a user model's paths are checked when the model is built.
    """
    table = layer_table_of(model)
    if table.spec is not None:
        return table.prefix + layer
    if layer not in table.layers:
        raise ValueError(f"unknown layer {layer!r} of architecture {table.name!r}; "
                         f"valid layers: {list(table.layers)}")
    return table.layers[layer]
