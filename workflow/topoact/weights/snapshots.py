"""The trainings of a weight-space study and the snapshots of their weights (torch)."""

from __future__ import annotations

from torch import nn

FINAL = "final"


#: Modules that act per element or per channel: a layer hooked after one of them (AlexNet's
#: ``conv1`` is the ReLU ``features.1``) is the convolution before it.
POINTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
             nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.Identity)


def conv_module_path(model: nn.Module, layer: str, path: str) -> str:
    """The module path of the convolution a layer names.

    ``path`` may name a ``Conv2d``, a block holding exactly one (the embedded model's
    ``conv1`` is Conv2d + BatchNorm + ReLU), or a pointwise module (ReLU, BatchNorm, ...)
    that follows a ``Conv2d`` in a ``Sequential`` (AlexNet's readable layers name the
    ReLU after each convolution).

    Raises
    ------
    ValueError
        Naming the layer when it holds no convolution or several.
    """
    modules = dict(model.named_modules())
    if path not in modules:
        raise ValueError(f"layer {layer!r}: module {path!r} not found in the model")
    if isinstance(modules[path], nn.Conv2d):
        return path
    convs = [name for name, m in modules[path].named_modules() if isinstance(m, nn.Conv2d)]
    if not convs and isinstance(modules[path], POINTWISE):
        before = _conv_before(modules, path)
        if before is not None:
            return before
    if len(convs) != 1:
        found = "no Conv2d" if not convs else f"{len(convs)} Conv2d modules ({convs})"
        raise ValueError(f"weights: layer {layer!r} (module {path!r}) is not a convolution: it "
                         f"holds {found}; name a Conv2d or a block with exactly one")
    return f"{path}.{convs[0]}" if convs[0] else path


def _conv_before(modules: dict[str, nn.Module], path: str) -> str | None:
    """The Conv2d that a pointwise module of a Sequential follows, through other
    pointwise modules; None when there is none."""
    parent, _, index = path.rpartition(".")
    if not index.isdigit() or not isinstance(modules.get(parent), nn.Sequential):
        return None
    for position in range(int(index) - 1, -1, -1):
        sibling = f"{parent}.{position}" if parent else str(position)
        if isinstance(modules[sibling], nn.Conv2d):
            return sibling
        if not isinstance(modules[sibling], POINTWISE):
            return None
    return None


# --------------------------------------------------------------------------- trainings


def snapshot_label(iteration: int | str) -> str:
    """``iteration-50`` for 50; ``final`` for the trained weights."""
    return FINAL if iteration == FINAL else f"iteration-{int(iteration)}"


# --------------------------------------------------------------------------- workflow steps
