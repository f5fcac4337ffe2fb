"""Users' models: a ``package.module:callable``, a timm name or a TorchScript file, with
layers named by module path (a TorchScript model's taps through its forward code)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from topoact.layers import (
    TORCHSCRIPT,
    is_user_architecture,
    user_layer_table,
)
from topoact.models.registry import Architecture, WithNormalize, get_architecture


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
