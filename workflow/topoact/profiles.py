"""Profile graphs of the neurons and synapses an image activates (DeepDataProfiler 2.0.1).

A *profile* of an image is the sub-network it most activates, with DDP's definitions:

1. *Layers* — a layer starts at a ``Conv2d``, ``Linear``, ``MaxPool2d``,
   ``AdaptiveAvgPool2d`` or a residual add, and folds in the BatchNorm / activation /
   Dropout modules that follow it. Layer 0 is the input (after the model's own input
   normalization). The layers come from a ``torch.fx`` trace, so any model built of these
   pieces works (``nn.Flatten`` and ``torch.flatten`` pass through); anything else is
   refused by name and module path.
2. *Influential neurons* — each layer picks its own from its own activations: the tail
   (after the folded modules) where head and tail agree in sign; for channels, each
   channel's maximum over space (elements: that maximum's position); clipped at 0,
   sorted in descending order, the prefix whose cumulative share is ≤ ``threshold`` plus
   one more, weights divided by their sum.
3. *Synapses* — from each influential neuron to its contributors in the predecessor
   layer(s), with DDP's formulas per layer kind (see the ``_channel_*`` and
   ``_element_*`` functions), including DDP's quirks (an element convolution adds the
   "one more" contributor only while fewer than k² are kept; element max pooling weighs
   its synapse by the maximum itself).
4. *Counts* — a neuron's count is 1 if it is influential plus the number of synapses it
   is the source of; class profiles add counts, and weights become count-weighted means
   (DDP's ``Profile.__add__``).

Differences from DDP, deliberate: images are profiled in batches (one forward pass for
the batch instead of two per image); a module applied twice is read at each call (DDP's
hooks keep the last call only, which matters for a residual block whose shared ReLU is
not in place); the profile-graph metric is made well defined (undirected shortest paths,
disconnected pairs at a finite cap) — see :func:`graph_distances`.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import torchvision
from persim import PersistenceImager
from ripser import ripser
from scipy import sparse
from scipy.sparse.csgraph import shortest_path
from torch import fx, nn
from tqdm.auto import tqdm

from topoact import models, store
from topoact.plots import (
    plot_class_persistence_images,
    plot_jaccard_heatmaps,
    plot_profile_sizes,
    plot_within_across,
)

NEURON_KINDS = ("channel", "element")
WEIGHTINGS = ("inverted", "original")

#: Layer kinds and the modules that start them.
LAYER_MODULES = {nn.Conv2d: "conv", nn.Linear: "linear", nn.MaxPool2d: "maxpool",
                 nn.AdaptiveAvgPool2d: "avgpool"}
#: Modules folded into the layer before them (they keep the activation's shape).
FOLDED_MODULES = (nn.modules.batchnorm._BatchNorm, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
                  nn.Dropout3d, nn.AlphaDropout, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU,
                  nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh,
                  nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus)
FOLDED_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.leaky_relu, F.gelu, F.silu, torch.sigmoid,
                    torch.tanh, F.dropout, F.batch_norm}
FOLDED_METHODS = {"relu", "relu_", "sigmoid", "tanh"}
#: Reshapes a layer's output passes through unchanged (a Linear reads the 4-D tensor
#: before them, as DDP does).
PASS_MODULES = (nn.Flatten, nn.Identity)
PASS_FUNCTIONS = {torch.flatten}
PASS_METHODS = {"flatten", "view", "reshape", "contiguous", "squeeze"}
ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}
SHAPE_METHODS = {"size", "dim"}


class ProfileError(ValueError):
    """A model, setting or input the profiler cannot take (the message says which)."""


# --------------------------------------------------------------------------- layers


@dataclass
class ProfileLayer:
    """One DDP layer.

    Attributes
    ----------
    index
        Layer number (0 = the input), in the order the forward pass computes them.
    kind
        ``input``, ``conv``, ``linear``, ``maxpool``, ``avgpool`` or ``add``.
    name
        The module path of its first module (``layer1.0.add`` style for an add).
    head, tail
        fx node names of its first and last computation (the tail is what the layers
        after it read).
    preds
        Predecessor layer indices, ascending (two for an add).
    module
        The starting module (None for the input and an add).
    shape
        The head's output shape without the batch axis (set by the first profiled batch).
    """

    index: int
    kind: str
    name: str
    head: str
    tail: str
    preds: tuple[int, ...] = ()
    module: nn.Module | None = field(default=None, repr=False)
    shape: tuple[int, ...] | None = None


def _module_path(node: fx.Node) -> str:
    """The module path a node comes from (its target, or its stack's owner)."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack.values()))[0] if stack else "(top level)"


class _Tracer(fx.Tracer):
    """fx's tracer, keeping a model's own input normalization as one (leaf) module."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return _is_input_normalization(module) or super().is_leaf_module(module, qualified_name)


def trace_model(model: nn.Module) -> fx.GraphModule:
    """The model as a ``torch.fx`` graph module (sharing the model's parameters)."""
    for path, module in model.named_modules():
        if isinstance(module, torch.jit.ScriptModule):
            raise ProfileError(f"unsupported module: {path or 'the model'!r} is a TorchScript "
                               "module, which torch.fx cannot look into; profile the Python "
                               "model it was scripted from")
    try:
        graph = _Tracer().trace(model)
        return fx.GraphModule(model, graph, type(model).__name__)
    except Exception as error:  # noqa: BLE001 - fx raises many kinds
        raise ProfileError(f"cannot trace {type(model).__name__} with torch.fx, which "
                           f"profiling needs to find its layers: {error}") from None


def _check_module(module: nn.Module, path: str) -> None:
    """Refuse the layer modules whose contributions DDP's formulas do not cover."""
    if isinstance(module, nn.Conv2d):
        square = module.kernel_size[0] == module.kernel_size[1]
        if module.groups != 1 or not square or module.stride[0] != module.stride[1] \
                or not isinstance(module.padding, tuple) or module.padding[0] != module.padding[1]:
            raise ProfileError(f"unsupported Conv2d at {path!r}: profiles need groups=1, a "
                               f"square kernel, equal strides and numeric equal padding "
                               f"(got {module})")
    if isinstance(module, nn.MaxPool2d):
        if not all(isinstance(v, int) for v in (module.kernel_size, module.stride,
                                                 module.padding)):
            raise ProfileError(f"unsupported MaxPool2d at {path!r}: profiles need int "
                               f"kernel_size, stride and padding (got {module})")


def layer_plan(model: nn.Module) -> tuple[fx.GraphModule, list[ProfileLayer]]:
    """Trace a model and group its computation into DDP layers.

    Raises
    ------
    ProfileError
        For a module or function the profiler has no rule for (named, with its path).
    """
    traced = trace_model(model)
    modules = dict(traced.named_modules())
    layers: list[ProfileLayer] = []
    owner: dict[str, int] = {}  # fx node name -> the layer whose output it carries

    def source(node: fx.Node) -> int:
        arg = node.args[0]
        if not isinstance(arg, fx.Node) or arg.name not in owner:
            raise ProfileError(f"{node.format_node()} at {_module_path(node)!r} does not "
                               "read a layer's output")
        return owner[arg.name]

    def start(node: fx.Node, kind: str, preds: tuple[int, ...], module=None) -> None:
        name = {"call_module": str(node.target), "placeholder": "input"}.get(
            node.op, f"{_module_path(node)}.add")
        layers.append(ProfileLayer(len(layers), kind, name, node.name, node.name,
                                   tuple(sorted(preds)), module))
        owner[node.name] = len(layers) - 1

    def fold(node: fx.Node) -> None:
        owner[node.name] = source(node)
        layers[owner[node.name]].tail = node.name

    for node in traced.graph.nodes:
        kind = _node_rule(node, modules)
        if kind == "input":
            if layers:
                raise ProfileError("profiles need a model with one input tensor")
            start(node, "input", ())
        elif kind in LAYER_MODULES.values():
            module = modules[str(node.target)]
            _check_module(module, str(node.target))
            start(node, kind, (source(node),), module)
        elif kind == "add":
            start(node, "add", tuple(owner[a.name] for a in node.args[:2]))
        elif kind == "fold":
            fold(node)
        elif kind == "pass":
            owner[node.name] = source(node)
    return traced, layers


def _node_rule(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    """What a traced node is to the profiler: a layer kind, ``fold``, ``pass``, ``add``,
    ``input`` or ``ignore``; anything else is refused."""
    if node.op == "placeholder":
        return "input"
    if node.op in ("output", "get_attr"):
        return "ignore"
    if node.op == "call_module":
        module = modules[str(node.target)]
        for cls, kind in LAYER_MODULES.items():
            if type(module) is cls:
                return kind
        if isinstance(module, FOLDED_MODULES) or _is_input_normalization(module):
            return "fold"
        if isinstance(module, PASS_MODULES):
            return "pass"
        raise ProfileError(f"unsupported module {type(module).__name__} at "
                           f"{str(node.target)!r}: profiles know Conv2d, Linear, MaxPool2d, "
                           "AdaptiveAvgPool2d and residual adds, with BatchNorm, activation "
                           "and Dropout modules after them")
    tensors = [a for a in node.args if isinstance(a, fx.Node)]
    if node.op == "call_function" and node.target in ADD_FUNCTIONS and len(tensors) == 2:
        return "add"
    if (node.op == "call_function" and node.target in FOLDED_FUNCTIONS) or \
            (node.op == "call_method" and node.target in FOLDED_METHODS):
        return "fold"
    if (node.op == "call_function" and node.target in PASS_FUNCTIONS) or \
            (node.op == "call_method" and node.target in PASS_METHODS):
        return "pass"
    if node.op == "call_method" and node.target in SHAPE_METHODS:
        return "ignore"
    target = getattr(node.target, "__name__", node.target)
    raise ProfileError(f"unsupported operation {target!r} at {_module_path(node)!r}: "
                       "profiles know Conv2d, Linear, MaxPool2d, AdaptiveAvgPool2d, residual "
                       "adds, activations and reshapes")


def _is_input_normalization(module: nn.Module) -> bool:
    """This package's ``Normalize`` (a model's own input scaling) joins the input layer."""
    return type(module).__name__ == "Normalize" and hasattr(module, "mean")


def capture(traced: fx.GraphModule, layers: list[ProfileLayer], x: torch.Tensor,
            inplace_add: bool = False) -> dict[str, torch.Tensor]:
    """Run a batch through the traced model, keeping every layer's head and tail output.

    The tensors are the ones the model computes, modified in place as the model does
    (a ReLU with ``inplace=True`` overwrites its input), as DDP's hooks see them.
    ``inplace_add`` also adds each residual add into its first operand, as eager PyTorch
    runs torchvision's ``out += identity``: the tail of a block's last convolution layer
    then holds the block's output, which is what DDP 2.0.1 reads there.
    """
    wanted = {name for layer in layers for name in (layer.head, layer.tail)}
    adds = {layer.head for layer in layers if layer.kind == "add"} if inplace_add else set()
    kept: dict[str, torch.Tensor] = {}

    class Keeper(fx.Interpreter):
        def run_node(self, node):
            if node.name in adds:
                left, right = self.fetch_args_kwargs_from_env(node)[0][:2]
                result = left.add_(right)
            else:
                result = super().run_node(node)
            if node.name in wanted:
                kept[node.name] = result
            return result

    with torch.no_grad():
        Keeper(traced).run(x)
    return kept


# --------------------------------------------------------------------------- selection


def keep_share(values: torch.Tensor, threshold: float, cap: int,
               goal: torch.Tensor | None = None, offset: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """DDP's cumulative rule on rows sorted in descending order.

    A row keeps the entries whose cumulative sum is ≤ ``threshold`` × its total (or, with
    ``goal``, whose cumulative sum plus ``offset`` is ≤ ``goal``: DDP's linear rule), plus
    the next one while fewer than ``cap`` are kept; the values are divided by the
    cumulative sum at the last kept entry.

    Returns
    -------
    mask, normalised
        Which sorted entries are kept, and every entry divided by that row's kept sum.
    """
    cumsum = torch.cumsum(values, dim=1)
    if goal is None:
        mask = cumsum / cumsum[:, -1:] <= threshold
    else:
        base = cumsum if offset is None else cumsum + offset.unsqueeze(-1)
        mask = base <= goal.unsqueeze(-1)
    count = mask.sum(dim=1)
    last = torch.where(count < cap, count, count - 1)
    rows = torch.arange(values.shape[0], device=values.device)
    mask[rows, last] = True
    return mask, values / cumsum[rows, last].unsqueeze(-1)


@dataclass
class Influence:
    """One image's influential neurons of one layer (flat neuron indices, weights)."""

    neurons: torch.Tensor
    weights: torch.Tensor


def influential_neurons(head: torch.Tensor, tail: torch.Tensor, threshold: float,
                        neuron: str) -> list[Influence]:
    """Each image's influential neurons of a layer, from its batched head and tail.

    Channels score their maximum over space; elements are that maximum's position
    (flat index ``c·H·W + i·W + j``); a linear layer's neurons are its elements. DDP's
    score is the maximum of the tail where head and tail agree in sign, clipped at 0:
    only positive entries with a positive head can count, so the tail where the head is
    positive gives the same scores and positions in fewer passes.
    """
    t = tail if head.data_ptr() == tail.data_ptr() else \
        torch.where(head > 0, tail, torch.zeros((), dtype=tail.dtype, device=tail.device))
    position = None
    if t.dim() == 4:
        b, c, h, w = t.shape
        score, position = torch.max(t.reshape(b, c, h * w), dim=-1)
    else:
        score = t.reshape(t.shape[0], -1)
    score = score.clamp(min=0)
    values, order = torch.sort(score, dim=1, descending=True)
    mask, weights = keep_share(values, threshold, cap=score.shape[1])
    result = []
    for row in range(score.shape[0]):
        chosen, kept = order[row][mask[row]], weights[row][mask[row]]
        nonzero = kept != 0  # DDP's eliminate_zeros
        chosen, kept = chosen[nonzero], kept[nonzero]
        if neuron == "element" and position is not None:
            chosen = chosen * (t.shape[2] * t.shape[3]) + position[row, chosen]
        result.append(Influence(chosen, kept))
    return result


# --------------------------------------------------------------------------- synapses


@dataclass
class Synapses:
    """One image's synapses into one layer.

    ``pred`` is the position of the source layer among the layer's predecessors (0 or 1
    for an add), ``source`` and ``target`` flat neuron indices.
    """

    pred: np.ndarray
    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, target, source, weight, pred=0) -> Synapses:
        target, source, weight = (np.asarray(v.detach().cpu() if torch.is_tensor(v) else v)
                                  for v in (target, source, weight))
        keep = weight != 0  # DDP's eliminate_zeros
        pred = np.broadcast_to(np.asarray(pred), target.shape)
        return cls(pred[keep].astype(np.int8), source[keep].astype(np.int64),
                   target[keep].astype(np.int64), weight[keep].astype(np.float64))

    @classmethod
    def join(cls, parts: Sequence[Synapses]) -> Synapses:
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("pred", "source", "target", "weight")))


def _sorted_keep(scores: torch.Tensor, threshold: float, cap: int,
                 goal=None, offset=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sort rows in descending order and keep DDP's share; (row, sorted index, weight)."""
    values, order = torch.sort(scores, dim=1, descending=True)
    mask, weights = keep_share(values, threshold, cap, goal, offset)
    rows = torch.arange(scores.shape[0], device=scores.device).unsqueeze(1).expand_as(mask)
    return rows[mask], order[mask], weights[mask]


def _channel_conv(x: torch.Tensor, infl: torch.Tensor, conv: nn.Conv2d, threshold: float
                  ) -> Synapses:
    """Per input channel: the depthwise convolution of the channel with the influential
    filter's slice, clipped at 0, its maximum over space; DDP's share of those."""
    n, c_in = len(infl), x.shape[0]
    # one grouped convolution: group g convolves input channel g with the n slices W[o, g]
    kernel = conv.weight[infl].transpose(0, 1).reshape(c_in * n, 1, *conv.kernel_size)
    z = F.conv2d(x.unsqueeze(0), kernel, stride=conv.stride, padding=conv.padding,
                 dilation=conv.dilation, groups=c_in)
    # the maximum of the clipped map is the clipped maximum
    scores = z.reshape(c_in, n, -1).amax(dim=-1).clamp(min=0).transpose(0, 1)
    rows, sources, weights = _sorted_keep(scores, threshold, cap=c_in)
    return Synapses.of(infl[rows], sources, weights)


def _linear(x: torch.Tensor, y: torch.Tensor, infl: torch.Tensor, linear: nn.Linear,
            threshold: float, neuron: str) -> Synapses:
    """x_j·W[i, j] clipped at 0, accepted while the running sum plus the bias stays
    ≤ threshold × the output; a 4-D input's contributors are its channels (weights
    summed per channel) for channel profiles, its elements for element profiles."""
    flat = x.reshape(-1)
    z = flat * linear.weight[infl]
    z = torch.where(z > 0, z, torch.zeros_like(z))
    bias = linear.bias[infl] if linear.bias is not None else None
    rows, sources, weights = _sorted_keep(z, threshold, cap=flat.shape[0],
                                          goal=threshold * y[infl], offset=bias)
    if neuron == "channel" and x.dim() > 1:
        sources = sources // (x.shape[1] * x.shape[2])
        return _summed(Synapses.of(infl[rows], sources, weights))
    return Synapses.of(infl[rows], sources, weights)


def _summed(synapses: Synapses) -> Synapses:
    """Duplicate (target, source) pairs merged, their weights added (DDP's
    ``sum_duplicates`` on a channel profile of a linear layer after a conv)."""
    keys = synapses.target * (synapses.source.max(initial=0) + 1) + synapses.source
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weight = np.bincount(inverse, weights=synapses.weight, minlength=len(unique))
    return Synapses(synapses.pred[first], synapses.source[first], synapses.target[first],
                    weight)


def _identity(infl: torch.Tensor, pred: int = 0) -> Synapses:
    """Each influential neuron from the same neuron of the predecessor, weight 1."""
    return Synapses.of(infl, infl, torch.ones(len(infl)), pred)


def _channel_add(xs: list[torch.Tensor], infl: torch.Tensor) -> Synapses:
    """A residual add: each channel from the branch whose channel maximum is larger
    (the second branch on ties)."""
    c = xs[0].shape[0]
    maxima = torch.stack([x.reshape(c, -1).amax(dim=-1) for x in xs])[:, infl]
    first = maxima[0] > maxima[1]
    return Synapses.join([_identity(infl[first], 0), _identity(infl[~first], 1)])


def _spatial(infl: torch.Tensor, shape: Sequence[int]) -> tuple[torch.Tensor, ...]:
    """Flat element indices of a (C, H, W) activation as channel, row, column."""
    h, w = shape[-2], shape[-1]
    return infl // (h * w), (infl % (h * w)) // w, infl % w


def _windows(x: torch.Tensor, i: torch.Tensor, j: torch.Tensor, stride: int, size: int
             ) -> torch.Tensor:
    """The size × size window at output position (i, j) of every channel: (n, C, k, k)."""
    steps = torch.arange(size, device=x.device)
    rows = (stride * i).unsqueeze(1) + steps
    cols = (stride * j).unsqueeze(1) + steps
    return x[:, rows[:, :, None], cols[:, None, :]].permute(1, 0, 2, 3)


def _element_conv(x: torch.Tensor, y_shape, infl: torch.Tensor, conv: nn.Conv2d,
                  threshold: float) -> Synapses:
    """Receptive-field products W·x (not clipped), DDP's share of them; contributors in
    the zero padding are dropped after the share is taken (as DDP does)."""
    k, stride, pad = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    c_in, h, w = x.shape
    ch, i, j = _spatial(infl, y_shape)
    field = _windows(F.pad(x, (pad, pad, pad, pad)), i, j, stride, k)
    z = (conv.weight[ch] * field).reshape(len(infl), c_in * k * k)
    rows, order, weights = _sorted_keep(z, threshold, cap=k * k)  # DDP caps at k², not C·k²
    src_c, src_i = order // (k * k), (order % (k * k)) // k + stride * i[rows] - pad
    src_j = order % k + stride * j[rows] - pad
    valid = (src_i >= 0) & (src_i < h) & (src_j >= 0) & (src_j < w)
    sources = (src_c * h + src_i) * w + src_j
    return Synapses.of(infl[rows][valid], sources[valid], weights[valid])


def _element_maxpool(x: torch.Tensor, y_shape, infl: torch.Tensor, pool: nn.MaxPool2d
                     ) -> Synapses:
    """Each element from its window's maximum (zero padding), weighted by that maximum."""
    k, stride, pad = pool.kernel_size, pool.stride, pool.padding
    _, h, w = x.shape
    ch, i, j = _spatial(infl, y_shape)
    field = _windows(F.pad(x, (pad, pad, pad, pad)), i, j, stride, k)
    field = field[torch.arange(len(infl)), ch].reshape(len(infl), k * k)
    value, where = torch.max(field, dim=1)
    src_i, src_j = where // k + stride * i - pad, where % k + stride * j - pad
    valid = (src_i >= 0) & (src_i < h) & (src_j >= 0) & (src_j < w)
    sources = (ch * h + src_i) * w + src_j
    return Synapses.of(infl[valid], sources[valid], value[valid])


def _element_avgpool(x: torch.Tensor, y_shape, infl: torch.Tensor,
                     pool: nn.AdaptiveAvgPool2d, threshold: float) -> Synapses:
    """The window's elements clipped at 0 over k², DDP's share of them (DDP's window:
    stride H // out, size H − (out − 1)·stride)."""
    size = pool.output_size if isinstance(pool.output_size, int) else pool.output_size[0]
    _, h, w = x.shape
    stride = h // size
    k = h - (size - 1) * stride
    ch, i, j = _spatial(infl, y_shape)
    field = _windows(x, i, j, stride, k)[torch.arange(len(infl)), ch]
    field = torch.where(field > 0, field, torch.zeros_like(field)).reshape(len(infl), k * k)
    rows, order, weights = _sorted_keep(field / k**2, threshold, cap=k * k)
    src_i, src_j = order // k + stride * i[rows], order % k + stride * j[rows]
    return Synapses.of(infl[rows], (ch[rows] * h + src_i) * w + src_j, weights)


def _element_add(xs: list[torch.Tensor], infl: torch.Tensor) -> Synapses:
    """A residual add: each element from the branch where it is larger (the second on
    ties)."""
    ch, i, j = _spatial(infl, xs[0].shape)
    values = torch.stack([x[ch, i, j] for x in xs])
    first = values[0] > values[1]
    return Synapses.join([_identity(infl[first], 0), _identity(infl[~first], 1)])


def layer_synapses(layer: ProfileLayer, xs: list[torch.Tensor], y: torch.Tensor,
                   infl: torch.Tensor, threshold: float, neuron: str) -> Synapses:
    """One image's synapses into one layer: its influential neurons ``infl`` (flat
    indices) from the predecessors' tails ``xs`` and its own head ``y`` (no batch axis)."""
    kind, module = layer.kind, layer.module
    if kind == "linear":
        return _linear(xs[0], y, infl, module, threshold, neuron)
    if kind == "add":
        for x in xs[1:]:
            if x.shape != xs[0].shape:
                raise ProfileError(f"residual add {layer.name!r} adds shapes "
                                   f"{tuple(xs[0].shape)} and {tuple(x.shape)}")
        return (_channel_add if neuron == "channel" else _element_add)(xs, infl)
    if neuron == "channel":
        if kind == "conv":
            return _channel_conv(xs[0], infl, module, threshold)
        if xs[0].shape[0] != y.shape[0]:
            raise ProfileError(f"pooling layer {layer.name!r} changes the channel count")
        return _identity(infl)
    if kind == "conv":
        return _element_conv(xs[0], y.shape, infl, module, threshold)
    if kind == "maxpool":
        return _element_maxpool(xs[0], y.shape, infl, module)
    return _element_avgpool(xs[0], y.shape, infl, module, threshold)


# --------------------------------------------------------------------------- profiles

NEURON_FIELDS = ("layer", "neuron", "count", "weight")
SYNAPSE_FIELDS = ("source_layer", "source", "target_layer", "target", "count", "weight")


@dataclass
class Profile:
    """A profile as sparse tables: neurons (layer, neuron, count, weight) and synapses
    (source layer, source, target layer, target, count, weight).

    A neuron's weight is its influence weight (0 where it only contributes); ``images``
    is how many image profiles were added into it.
    """

    neurons: dict[str, np.ndarray]
    synapses: dict[str, np.ndarray]
    images: int = 1

    def neuron_keys(self) -> np.ndarray:
        """One int64 key per neuron (layer in the high bits)."""
        return _key(self.neurons["layer"], self.neurons["neuron"])

    def synapse_keys(self) -> np.ndarray:
        """One key per synapse (its source and target keys combined)."""
        source = _key(self.synapses["source_layer"], self.synapses["source"])
        target = _key(self.synapses["target_layer"], self.synapses["target"])
        return np.stack([source, target], axis=1)


def _key(layer: np.ndarray, neuron: np.ndarray) -> np.ndarray:
    return (np.asarray(layer, np.int64) << 40) | np.asarray(neuron, np.int64)


def _merge(keys: np.ndarray, counts: np.ndarray, weights: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with equal keys merged: counts added, weights count-weighted means."""
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    count = np.bincount(inverse, weights=counts, minlength=len(unique))
    weighted = np.bincount(inverse, weights=weights * counts, minlength=len(unique))
    return unique, count.astype(np.int64), np.divide(weighted, count, where=count > 0,
                                                     out=np.zeros_like(weighted))


def assemble(layers: list[ProfileLayer], influence: dict[int, Influence],
             synapses: dict[int, Synapses]) -> Profile:
    """One image's profile from its influential neurons and synapses per layer.

    A neuron counts 1 if influential, plus 1 per synapse it is the source of (DDP's
    neuron counts); its weight is its influence weight.
    """
    def cat(parts: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    found = list(synapses.items())
    synapse_table = {
        "source_layer": cat([np.asarray(layers[t].preds)[s.pred.astype(np.int64)]
                             for t, s in found], np.int64),
        "source": cat([s.source for _, s in found], np.int64),
        "target_layer": cat([np.full(len(s.source), t) for t, s in found], np.int64),
        "target": cat([s.target for _, s in found], np.int64),
        "weight": cat([s.weight for _, s in found], np.float64),
    }
    synapse_table["count"] = np.ones(len(synapse_table["source"]), np.int64)
    # influential neurons (count 1, their weight) and synapse sources (count 1, weight 0)
    keys = np.concatenate([
        *(_key(np.full(len(i.neurons), layer), i.neurons.cpu().numpy())
          for layer, i in influence.items()),
        _key(synapse_table["source_layer"], synapse_table["source"])])
    weight = np.concatenate([*(i.weights.double().cpu().numpy() for i in influence.values()),
                             np.zeros(len(synapse_table["source"]))])
    unique, inverse = np.unique(keys, return_inverse=True)
    neurons = {"layer": unique >> 40, "neuron": unique & ((1 << 40) - 1),
               "count": np.bincount(inverse, minlength=len(unique)).astype(np.int64),
               "weight": np.bincount(inverse, weights=weight, minlength=len(unique))}
    return Profile(neurons, synapse_table)


def add_profiles(profiles: Sequence[Profile]) -> Profile:
    """The sum of profiles (a class profile): counts add, weights become count-weighted
    means (DDP's ``Profile.__add__``)."""
    if not profiles:
        raise ProfileError("no profiles to add")
    n = {f: np.concatenate([p.neurons[f] for p in profiles]) for f in NEURON_FIELDS}
    keys, count, weight = _merge(_key(n["layer"], n["neuron"]), n["count"], n["weight"])
    neurons = {"layer": keys >> 40, "neuron": keys & ((1 << 40) - 1), "count": count,
               "weight": weight}
    s = {f: np.concatenate([p.synapses[f] for p in profiles]) for f in SYNAPSE_FIELDS}
    pairs = np.stack([_key(s["source_layer"], s["source"]),
                      _key(s["target_layer"], s["target"])], axis=1)
    pairs, count, weight = _merge(pairs, s["count"], s["weight"])
    synapses = {"source_layer": pairs[:, 0] >> 40, "source": pairs[:, 0] & ((1 << 40) - 1),
                "target_layer": pairs[:, 1] >> 40, "target": pairs[:, 1] & ((1 << 40) - 1),
                "count": count, "weight": weight}
    return Profile(neurons, synapses, sum(p.images for p in profiles))


def check_settings(threshold: float, neuron: str) -> None:
    """Refuse a threshold outside (0, 1] or an unknown neuron kind."""
    if neuron not in NEURON_KINDS:
        raise ProfileError(f"unknown neuron kind {neuron!r}; choose one of {list(NEURON_KINDS)}")
    if not 0 < float(threshold) <= 1:
        raise ProfileError(f"threshold {threshold} is outside (0, 1]: it is the share of "
                           "the total that the kept neurons may reach")


def profile_batch(traced: fx.GraphModule, layers: list[ProfileLayer], x: torch.Tensor,
                  threshold: float = 0.1, neuron: str = "channel", inplace_add: bool = False
                  ) -> list[Profile]:
    """The profile of each image of a batch (one forward pass for the batch);
    ``inplace_add`` as in :func:`capture`."""
    check_settings(threshold, neuron)
    acts = capture(traced, layers, x, inplace_add)
    for layer in layers:
        layer.shape = tuple(acts[layer.head].shape[1:])
    influence: list[dict[int, Influence]] = [{} for _ in range(len(x))]
    synapses: list[dict[int, Synapses]] = [{} for _ in range(len(x))]
    with torch.no_grad():
        for layer in layers[1:]:
            head, tail = acts[layer.head], acts[layer.tail]
            chosen = influential_neurons(head, tail, threshold, neuron)
            inputs = [acts[layers[p].tail] for p in layer.preds]
            for b, found in enumerate(chosen):
                influence[b][layer.index] = found
                synapses[b][layer.index] = layer_synapses(
                    layer, [x_[b] for x_ in inputs], head[b], found.neurons, threshold, neuron)
    return [assemble(layers, i, s) for i, s in zip(influence, synapses, strict=True)]


def profile_images(model: nn.Module, images: np.ndarray | torch.Tensor, *,
                   threshold: float = 0.1, neuron: str = "channel", batch_size: int = 16,
                   inplace_add: bool = False, device: torch.device | str = "cpu",
                   progress: bool = False) -> tuple[list[Profile], list[ProfileLayer]]:
    """Profiles of images (N, 3, H, W, floats as the model takes them), in batches;
    ``inplace_add`` as in :func:`capture` (true reproduces DDP on residual networks).

    Returns
    -------
    profiles, layers
        One profile per image, and the model's DDP layers.
    """
    check_settings(threshold, neuron)
    model = model.to(device).eval()
    traced, layers = layer_plan(model)
    profiles: list[Profile] = []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="profiling", unit="batch", disable=not progress):
        batch = torch.as_tensor(np.asarray(images[start:start + batch_size]),
                                dtype=torch.float32, device=device)
        profiles.extend(profile_batch(traced, layers, batch, threshold, neuron, inplace_add))
    return profiles, layers


def layer_sizes(profile: Profile, n_layers: int) -> np.ndarray:
    """Number of neurons of the profile in each layer."""
    return np.bincount(profile.neurons["layer"].astype(np.int64), minlength=n_layers)



# --------------------------------------------------------------------------- graph and metric


def profile_graph(profile: Profile, weighting: str = "inverted"
                  ) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The profile graph: vertices (layer, neuron) — the synapses' ends — and its
    undirected adjacency, each synapse weighted by its influence (``original``) or by
    1 / influence (``inverted``, DDP's tutorial); where two synapses join the same pair
    the shorter edge counts.

    Returns
    -------
    vertices, adjacency
        Vertex keys (layer << 40 | neuron), sorted, and a symmetric sparse matrix.
    """
    if weighting not in WEIGHTINGS:
        raise ProfileError(f"unknown weighting {weighting!r}; choose one of {list(WEIGHTINGS)}")
    pairs = profile.synapse_keys()
    weight = np.asarray(profile.synapses["weight"], dtype=np.float64)
    length = weight if weighting == "original" else 1.0 / weight
    usable = np.isfinite(length) & (length > 0)  # DDP clips at 0; a 0 edge is no edge
    pairs, length = pairs[usable], length[usable]
    vertices, index = np.unique(pairs, return_inverse=True)
    index = index.reshape(pairs.shape)
    n = len(vertices)
    rows = np.concatenate([index[:, 0], index[:, 1]])
    cols = np.concatenate([index[:, 1], index[:, 0]])
    both = np.concatenate([length, length])
    order = np.lexsort((both, cols, rows))  # first of each (row, col) is the shortest
    rows, cols, both = rows[order], cols[order], both[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    adjacency = sparse.csr_matrix((both[first], (rows[first], cols[first])), shape=(n, n))
    return vertices, adjacency


def graph_distances(adjacency: sparse.spmatrix, kernel: bool = True, cap_factor: float = 2.0
                    ) -> np.ndarray:
    """Shortest-path distances on the undirected profile graph, made a metric.

    DDP leaves the graph directed and unreachable pairs infinite, and ripser then reads
    only the upper triangle, which depends on the vertex order. Here the graph is
    undirected; with ``kernel`` the finite distances go through the Gaussian kernel
    g(x) = 1 − exp(−x / (2σ)), σ the standard deviation of the finite entries (the zero
    diagonal included, as in DDP's tutorial); disconnected pairs are then set to
    ``cap_factor`` × the largest finite value (1 if there is none), so that every bar
    within a component ends before components join.
    """
    distances = shortest_path(adjacency, method="D", directed=False)
    finite_mask = np.isfinite(distances)
    if kernel and finite_mask.any():
        sigma = float(np.std(distances[finite_mask]))
        if sigma > 0:
            distances[finite_mask] = 1.0 - np.exp(-distances[finite_mask] / (2.0 * sigma))
    largest = float(distances[finite_mask].max()) if finite_mask.any() else 0.0
    distances[~finite_mask] = cap_factor * largest if largest > 0 else 1.0
    return distances


def graph_diagrams(distances: np.ndarray, maxdim: int = 1) -> list[np.ndarray]:
    """ripser's diagrams H0..H``maxdim`` of a distance matrix (H0's last bar infinite)."""
    if len(distances) == 0:
        return [np.zeros((0, 2)) for _ in range(maxdim + 1)]
    return ripser(distances, distance_matrix=True, maxdim=maxdim)["dgms"]


@dataclass(frozen=True)
class ImageGrid:
    """The persistence-image grid of a run (fixed by the config, so images compare)."""

    birth_range: tuple[float, float] = (0.0, 1.0)
    pers_range: tuple[float, float] = (0.0, 1.0)
    pixel_size: float = 0.05
    spread: float = 0.05  # the Gaussian's standard deviation

    def imager(self) -> PersistenceImager:
        variance = self.spread ** 2
        return PersistenceImager(birth_range=tuple(self.birth_range),
                                 pers_range=tuple(self.pers_range), pixel_size=self.pixel_size,
                                 kernel_params={"sigma": [[variance, 0.0], [0.0, variance]]})

    @property
    def shape(self) -> tuple[int, int]:
        return self.imager().resolution


def persistence_image(diagram: np.ndarray, grid: ImageGrid) -> tuple[np.ndarray, int]:
    """The persistence image of a diagram's finite bars (persistence-weighted, persim)
    on the run's grid, and how many bars fall outside the grid."""
    bars = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    bars = bars[np.isfinite(bars[:, 1])]
    imager = grid.imager()
    if len(bars) == 0:
        return np.zeros(imager.resolution), 0
    persistence = bars[:, 1] - bars[:, 0]
    outside = int(np.sum((bars[:, 0] < grid.birth_range[0]) | (bars[:, 0] > grid.birth_range[1])
                         | (persistence > grid.pers_range[1])))
    return imager.transform(bars, skew=True), outside


# --------------------------------------------------------------------------- similarity


def jaccard(a: Profile, b: Profile, of: str = "neurons") -> float:
    """|A ∩ B| / |A ∪ B| of two profiles' neuron (or synapse) sets (DDP's ``jaccard``:
    nnz(A∘B) / nnz(A + B)); 0 when both are empty."""
    if of == "neurons":
        keys_a, keys_b = a.neuron_keys(), b.neuron_keys()
    elif of == "synapses":
        keys_a, keys_b = _pair_keys(a), _pair_keys(b)
    else:
        raise ProfileError(f"jaccard of {of!r}: choose neurons or synapses")
    union = len(np.union1d(keys_a, keys_b))
    return len(np.intersect1d(keys_a, keys_b)) / union if union else 0.0


def _pair_keys(profile: Profile) -> np.ndarray:
    """One string-free key per synapse (its two vertex keys as a structured pair)."""
    pairs = np.ascontiguousarray(profile.synapse_keys())
    return pairs.view([("source", np.int64), ("target", np.int64)]).reshape(-1)


def jaccard_matrix(profiles: Sequence[Profile], of: str = "neurons") -> np.ndarray:
    """Pairwise Jaccard similarity of profiles (1 on the diagonal)."""
    n = len(profiles)
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = jaccard(profiles[i], profiles[j], of)
    return matrix


def within_across(matrix: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                  permutations: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, float]:
    """Within-class against across-class similarity of image profiles.

    Returns
    -------
    table, p_value
        Per class (and ``all``): the mean similarity of its image pairs within the class
        and of its images with other classes' images, their difference and pair counts;
        and the one-sided permutation p-value of the overall difference (labels shuffled
        ``permutations`` times; (1 + #as large) / (1 + permutations); NaN where a
        class has no pair within or across).
    """
    labels = np.asarray(labels)
    upper = np.triu(np.ones_like(matrix, bool), k=1)

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if len(values) else float("nan")

    def difference(lab: np.ndarray) -> float:
        same = lab[:, None] == lab[None, :]
        return mean(matrix[upper & same]) - mean(matrix[upper & ~same])

    rows = []
    for c in np.unique(labels):
        mine = labels == c
        inner = matrix[np.ix_(mine, mine)][np.triu(np.ones((mine.sum(),) * 2, bool), k=1)]
        outer = matrix[np.ix_(mine, ~mine)].ravel()
        rows.append({"class": classes[int(c)], "images": int(mine.sum()), "within": mean(inner),
                     "across": mean(outer), "within_pairs": len(inner),
                     "across_pairs": len(outer)})
    same = labels[:, None] == labels[None, :]
    rows.append({"class": "all", "images": len(labels), "within": mean(matrix[upper & same]),
                 "across": mean(matrix[upper & ~same]),
                 "within_pairs": int((upper & same).sum()),
                 "across_pairs": int((upper & ~same).sum())})
    table = pd.DataFrame(rows)
    table["difference"] = table["within"] - table["across"]
    observed = difference(labels)
    if np.isnan(observed):  # no pairs within (or across) classes: nothing to test
        return table, float("nan")
    rng = np.random.default_rng(seed)
    larger = sum(difference(rng.permutation(labels)) >= observed for _ in range(permutations))
    return table, (1 + larger) / (1 + permutations)


# --------------------------------------------------------------------------- stores


def to_tables(profiles: Sequence[Profile]) -> dict[str, np.ndarray]:
    """Profiles as flat columns ``neurons_*`` / ``synapses_*``, each row tagged with the
    position of its image (``*_image``)."""
    tables: dict[str, np.ndarray] = {}
    for part, fields in (("neurons", NEURON_FIELDS), ("synapses", SYNAPSE_FIELDS)):
        rows = [getattr(p, part) for p in profiles]
        tables[f"{part}_image"] = np.concatenate(
            [np.full(len(r[fields[0]]), i, np.int32) for i, r in enumerate(rows)]
            or [np.zeros(0, np.int32)])
        for f in fields:
            dtype = np.float64 if f == "weight" else np.int64
            tables[f"{part}_{f}"] = np.concatenate([np.asarray(r[f], dtype) for r in rows]
                                                   or [np.zeros(0, dtype)])
    tables.pop("synapses_count")  # 1 for every synapse of one image
    return tables


def from_tables(tables: dict[str, np.ndarray]) -> list[Profile]:
    """The per-image profiles of :func:`to_tables`' columns."""
    n_images = len(tables["image"])
    tables = {**tables, "synapses_count": np.ones(len(tables["synapses_source"]), np.int64)}
    split = {}
    for part, fields in (("neurons", NEURON_FIELDS), ("synapses", SYNAPSE_FIELDS)):
        owner = tables[f"{part}_image"]
        order = np.argsort(owner, kind="stable")
        bounds = np.searchsorted(owner[order], np.arange(n_images + 1))
        split[part] = [{f: tables[f"{part}_{f}"][order[a:b]] for f in fields}
                       for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return [Profile(n, s) for n, s in zip(split["neurons"], split["synapses"], strict=True)]


def layer_records(layers: list[ProfileLayer]) -> list[dict]:
    """The layers as JSON-able records (index, kind, name, predecessors, shape)."""
    return [{"index": layer.index, "kind": layer.kind, "name": layer.name,
             "preds": list(layer.preds), "shape": list(layer.shape or ())}
            for layer in layers]


def select_images(labels: np.ndarray, per_class: int, n_classes: int, log=None) -> np.ndarray:
    """The first ``per_class`` images of each class (indices into ``labels``, ascending);
    a class with fewer uses what it has, and says so on ``log``."""
    chosen = []
    for c in range(n_classes):
        have = np.flatnonzero(labels == c)
        if len(have) < per_class and log is not None:
            print(f"class {c}: {len(have)} held-out images, fewer than the "
                  f"{per_class} asked; using {len(have)}", file=log)
        chosen.append(have[:per_class])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


# --------------------------------------------------------------------------- workflow steps


def heldout_images(images_path: str | os.PathLike, split: str, per_class: int, log=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The images to profile: the first ``per_class`` of each class in ``split``.

    Returns
    -------
    pixels, index, labels, classes
        uint8 (N, H, W, 3) pixels, their indices in the store, labels and class names.
    """
    group = store.open_store(images_path, "images")
    info = store.image_store_info(group)
    start, stop = store.split_range(info, split, images_path)
    labels = group["labels"][start:stop].astype(np.int64)
    chosen = select_images(labels, per_class, len(info.classes), log)
    pixels = group["images"].oindex[start + chosen]  # only the chosen images are read
    return pixels, start + chosen, labels[chosen], info.classes


def profile_store(weights_path: str | os.PathLike, images_path: str | os.PathLike,
                  out_path: str | os.PathLike, *, split: str = "test", per_class: int = 5,
                  threshold: float = 0.1, neuron: str = "channel", batch_size: int = 16,
                  inplace_add: bool = False, device: torch.device | str = "cpu", log=None,
                  attrs: dict | None = None) -> None:
    """Profile a model's held-out images and write the profiles store (zarr)."""
    check_settings(threshold, neuron)
    model, _ = models.load_model(weights_path, device)
    pixels, index, labels, classes = heldout_images(images_path, split, per_class, log)
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float() / 255
    found, layers = profile_images(model, x, threshold=threshold, neuron=neuron,
                                   batch_size=batch_size, inplace_add=inplace_add,
                                   device=device, progress=True)
    tables = {"image": index.astype(np.int64), "label": labels.astype(np.int16),
              **to_tables(found)}
    store.write_profiles(out_path, tables, {
        **(attrs or {}), "neuron": neuron, "threshold": float(threshold),
        "inplace_add": bool(inplace_add), "classes": list(classes),
        "layers": layer_records(layers)})
    if log is not None:
        sizes = [len(p.neurons["layer"]) for p in found]
        print(f"{len(found)} images profiled over {len(layers)} layers; neurons per "
              f"profile {min(sizes, default=0)}–{max(sizes, default=0)}", file=log)


@dataclass(frozen=True)
class MetricSettings:
    """How profile graphs become metric spaces (see :func:`graph_distances`)."""

    weighting: str = "inverted"
    kernel: bool = True
    cap_factor: float = 2.0


def profile_topology(profile: Profile, metric: MetricSettings, grid: ImageGrid
                     ) -> tuple[list[np.ndarray], np.ndarray, int]:
    """One profile's diagrams (H0, H1), its H1 persistence image and bars off the grid."""
    _, adjacency = profile_graph(profile, metric.weighting)
    diagrams = graph_diagrams(graph_distances(adjacency, metric.kernel, metric.cap_factor))
    image, outside = persistence_image(diagrams[1], grid)
    return diagrams, image, outside


def topology_for_store(profiles_path: str | os.PathLike, out_npz: str | os.PathLike,
                       figure: str | os.PathLike, metric: MetricSettings, grid: ImageGrid,
                       log=None) -> None:
    """Diagrams and persistence images of every profile of a store (one npz), and the
    figure of each class's mean persistence image."""
    tables, attrs = store.read_profiles(profiles_path)
    found = from_tables(tables)
    bars, images, off_grid = [], [], 0
    for i, profile in enumerate(tqdm(found, desc="profile topology", unit="image")):
        diagrams, image, outside = profile_topology(profile, metric, grid)
        off_grid += outside
        images.append(image)
        bars += [np.column_stack([np.full(len(d), i), np.full(len(d), dim), d])
                 for dim, d in enumerate(diagrams)]
    if off_grid and log is not None:
        print(f"{off_grid} H1 bars fall outside the persistence-image grid {grid}; widen "
              "profiles.image ranges", file=log)
    images = np.stack(images) if images else np.zeros((0, *grid.shape))
    labels, classes = tables["label"].astype(np.int64), attrs["classes"]
    sizes = np.stack([layer_sizes(p, len(attrs["layers"])) for p in found])
    with store.atomic_file(out_npz) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, bars=np.concatenate(bars) if bars else np.zeros((0, 4)),
                            images=images, labels=labels, image=tables["image"], sizes=sizes,
                            birth_range=grid.birth_range, pers_range=grid.pers_range,
                            pixel_size=grid.pixel_size, spread=grid.spread)
    means = {classes[c]: images[labels == c].mean(axis=0) for c in np.unique(labels)}
    extent = (*grid.birth_range, *grid.pers_range)
    plot_class_persistence_images(means, extent, figure,
                                  title=f"mean H1 persistence image per class "
                                        f"({attrs['neuron']} profiles)")


def similarity_for_store(profiles_path: str | os.PathLike, out_dir: str | os.PathLike,
                         permutations: int = 2000, seed: int = 0) -> None:
    """Jaccard similarity of class profiles (table + heatmap), within- against
    across-class similarity of image profiles (table + figure), and profile sizes per
    layer (figure), written into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables, attrs = store.read_profiles(profiles_path)
    found, labels = from_tables(tables), tables["label"].astype(np.int64)
    classes, present = attrs["classes"], np.unique(labels)
    class_profiles = [add_profiles([p for p, y in zip(found, labels, strict=True) if y == c])
                      for c in present]
    names = [classes[c] for c in present]
    heatmaps, pairs, p_values, summaries = {}, {}, {}, []
    upper = np.triu(np.ones((len(found),) * 2, bool), k=1)
    same = labels[:, None] == labels[None, :]
    for kind in ("neurons", "synapses"):
        heatmaps[kind] = jaccard_matrix(class_profiles, kind)
        store.write_tsv(pd.DataFrame(heatmaps[kind], index=pd.Index(names, name="class"),
                                     columns=names).reset_index(),
                        out / f"class-jaccard-{kind}.tsv")
        matrix = jaccard_matrix(found, kind)
        table, p_values[kind] = within_across(matrix, labels, classes, permutations, seed)
        summaries.append(table.assign(kind=kind, p_value=p_values[kind]))
        pairs[kind] = (matrix[upper & same], matrix[upper & ~same])
    store.write_tsv(pd.concat(summaries, ignore_index=True), out / "within-across.tsv")
    plot_jaccard_heatmaps(heatmaps, names, out / "class-jaccard.png",
                          title=f"{attrs['neuron']} profiles, threshold {attrs['threshold']}")
    plot_within_across(pairs, p_values, out / "within-across.png")
    sizes = np.stack([layer_sizes(p, len(attrs["layers"])) for p in found])
    plot_profile_sizes(sizes, labels, classes, [r["name"] for r in attrs["layers"]],
                       out / "sizes.png")


# --------------------------------------------------------------------------- one image


def model_for_profiling(arch: str, weights: str | os.PathLike | None = None,
                        num_classes: int = 1000) -> tuple[nn.Module, int]:
    """A model by name, for ``topoact profile``: one of this package's architectures, or
    any torchvision classification model (behind ImageNet normalization, so it takes
    [0, 1] RGB); with a checkpoint's weights, else random (seed 0) ones.

    Returns
    -------
    model, input_size
    """
    if arch in models.ARCHITECTURES:
        known = models.get_architecture(arch)
        if weights is not None and models.sidecar_path(weights).exists():
            return models.load_model(weights)[0], known.input_size
        if weights is not None:
            return models.load_checkpoint(arch, weights, num_classes), known.input_size
        torch.manual_seed(0)
        return known.build(num_classes).eval(), known.input_size
    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise ProfileError(f"unknown architecture {arch!r}: give one of "
                           f"{sorted(models.ARCHITECTURES)} or a torchvision model name")
    torch.manual_seed(0)
    net = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("state_dict", state))
    return models.WithNormalize(net).eval(), 299 if arch == "inception_v3" else 224


def profile_payload(profile: Profile, layers: list[ProfileLayer]) -> dict:
    """One profile as JSON: its layers (with neurons per layer), neurons and synapses."""
    sizes = layer_sizes(profile, len(layers))
    records = layer_records(layers)
    for record, size in zip(records, sizes, strict=True):
        record["profile_neurons"] = int(size)
    n, s = profile.neurons, profile.synapses
    return {"layers": records,
            "neurons": [[int(a), int(b), int(c), float(d)] for a, b, c, d in
                        zip(n["layer"], n["neuron"], n["count"], n["weight"], strict=True)],
            "synapses": [[int(a), int(b), int(c), int(d), float(e)] for a, b, c, d, e in
                         zip(s["source_layer"], s["source"], s["target_layer"], s["target"],
                             s["weight"], strict=True)]}
