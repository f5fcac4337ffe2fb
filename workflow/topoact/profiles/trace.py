"""The layers a profile walks: a ``torch.fx`` trace of the model grouped into DDP layers,
and a batch run through it that keeps every layer's head and tail output."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn

from topoact.profiles.tables import ProfileError

#: Layer kinds and the modules that start them.
LAYER_MODULES = {nn.Conv2d: "conv", nn.Linear: "linear", nn.MaxPool2d: "maxpool",
                 nn.AdaptiveAvgPool2d: "avgpool", nn.AvgPool2d: "avgpool"}
#: Functional pooling (Inception-v3's branches): the layer's module is made from the
#: call's arguments.
POOL_FUNCTIONS = {"max_pool2d": (nn.MaxPool2d, "maxpool"),
                  "avg_pool2d": (nn.AvgPool2d, "avgpool")}
CONCAT_FUNCTIONS = {torch.cat, torch.concat}
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


# --------------------------------------------------------------------------- layers


@dataclass
class ProfileLayer:
    """One DDP layer.

    Attributes
    ----------
    index
        Layer number (0 = the input), in the order the forward pass computes them.
    kind
        ``input``, ``conv``, ``linear``, ``maxpool``, ``avgpool``, ``add`` or ``concat``
        (channels of its branches side by side, see
        :func:`~topoact.profiles.synapses.layer_synapses`).
    name
        The module path of its first module (``layer1.0.add`` style for an add,
        ``inception3a.cat`` for a concatenation, ``….max_pool2d`` for functional pooling).
    head, tail
        fx node names of its first and last computation (the tail is what the layers
        after it read).
    preds
        Predecessor layer indices, ascending (two for an add); a concatenation's in its
        operands' order (branch b's channels come after those of branches 0 … b − 1).
    module
        The starting module (None for the input, an add and a concatenation; made from
        the arguments for functional pooling).
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


class TransformInput(nn.Module):
    """torchvision's GoogLeNet / Inception-v3 ``transform_input`` (an affine map of each
    input channel, from ImageNet's normalization to theirs) as one module, so that the
    trace folds it into the input layer like a model's own input normalization."""

    def __init__(self, transform):
        super().__init__()
        self.transform = transform

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform(x)


def trace_model(model: nn.Module) -> fx.GraphModule:
    """The model as a ``torch.fx`` graph module (sharing the model's parameters)."""
    for path, module in model.named_modules():
        if isinstance(module, torch.jit.ScriptModule):
            raise ProfileError(f"unsupported module: {path or 'the model'!r} is a TorchScript "
                               "module, which torch.fx cannot look into; profile the Python "
                               "model it was scripted from")
    # The input transforms become leaf modules while the trace runs (the graph module
    # keeps them; the model gets its own method back).
    transforming = [module for module in model.modules()
                    if getattr(module, "transform_input", False)
                    and callable(getattr(module, "_transform_input", None))]
    for module in transforming:
        # A submodule (so that the trace finds its path), and the instance attribute that
        # the model's forward calls instead of its method.
        module.add_module("transform_input_", TransformInput(module._transform_input))
        object.__setattr__(module, "_transform_input", module.transform_input_)
    try:
        graph = _Tracer().trace(model)
        return fx.GraphModule(model, graph, type(model).__name__)
    except Exception as error:  # noqa: BLE001 - fx raises many kinds
        raise ProfileError(f"cannot trace {type(model).__name__} with torch.fx, which "
                           f"profiling needs to find its layers: {error}") from None
    finally:
        for module in transforming:
            del module._modules["transform_input_"], module.__dict__["_transform_input"]


def _check_module(module: nn.Module, path: str) -> None:
    """Refuse the layer modules whose contributions DDP's formulas do not cover."""
    if isinstance(module, nn.Conv2d):
        if module.groups != 1 or not isinstance(module.padding, tuple) \
                or module.dilation != (1, 1):
            raise ProfileError(f"unsupported Conv2d at {path!r}: profiles need groups=1, "
                               f"no dilation and numeric padding (got {module})")
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        dilation = getattr(module, "dilation", 1)
        if not all(isinstance(v, int) for v in (module.kernel_size, module.stride,
                                                 module.padding, dilation)) or dilation != 1:
            raise ProfileError(f"unsupported {type(module).__name__} at {path!r}: profiles "
                               f"need int kernel_size, stride and padding and no dilation "
                               f"(got {module})")
    if isinstance(module, nn.AvgPool2d) and (not module.count_include_pad
                                             or module.divisor_override is not None):
        raise ProfileError(f"unsupported AvgPool2d at {path!r}: profiles need "
                           f"count_include_pad=True and no divisor_override (got {module})")


def _pool_module(node: fx.Node, traced: fx.GraphModule) -> nn.Module:
    """The pooling module a functional pooling call (``F.max_pool2d``, ``F.avg_pool2d``)
    stands for, made from its arguments."""
    cls, _ = POOL_FUNCTIONS[getattr(node.target, "__name__", "")]
    arguments = node.normalized_arguments(traced, normalize_to_only_use_kwargs=True)
    if arguments is None:
        raise ProfileError(f"cannot read the arguments of {node.format_node()} at "
                           f"{_module_path(node)!r}")
    kwargs = {k: v for k, v in arguments.kwargs.items()
              if k not in ("input", "return_indices", "dilation")}
    if arguments.kwargs.get("dilation", 1) != 1 or arguments.kwargs.get("return_indices"):
        raise ProfileError(f"unsupported {node.format_node()} at {_module_path(node)!r}: "
                           "profiles need no dilation and no returned indices")
    return cls(**kwargs)


def _concat_operands(node: fx.Node) -> list[fx.Node]:
    """A channel concatenation's operands; other concatenations are refused."""
    arguments = dict(zip(("tensors", "dim"), node.args, strict=False)) | dict(node.kwargs)
    if arguments.get("dim", 0) != 1:
        raise ProfileError(f"unsupported concatenation {node.format_node()} at "
                           f"{_module_path(node)!r}: profiles join branches along the "
                           "channel axis (dim=1) only")
    return list(arguments["tensors"])


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
        suffix = getattr(node.target, "__name__", kind) if kind != "add" else "add"
        name = {"call_module": str(node.target), "placeholder": "input"}.get(
            node.op, f"{_module_path(node)}.{suffix}")
        preds = preds if kind == "concat" else tuple(sorted(preds))  # concat: branch order
        layers.append(ProfileLayer(len(layers), kind, name, node.name, node.name, preds,
                                   module))
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
            module = (modules[str(node.target)] if node.op == "call_module"
                      else _pool_module(node, traced))
            _check_module(module, _module_path(node))
            start(node, kind, (source(node),), module)
        elif kind == "add":
            start(node, "add", tuple(owner[a.name] for a in node.args[:2]))
        elif kind == "concat":
            operands = _concat_operands(node)
            missing = [a for a in operands if not isinstance(a, fx.Node) or a.name not in owner]
            if missing:
                raise ProfileError(f"{node.format_node()} at {_module_path(node)!r} joins "
                                   f"{missing}, which are not layers' outputs")
            start(node, "concat", tuple(owner[a.name] for a in operands))
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
                           "AvgPool2d, AdaptiveAvgPool2d, residual adds and channel "
                           "concatenations, with BatchNorm, activation and Dropout modules "
                           "after them")
    tensors = [a for a in node.args if isinstance(a, fx.Node)]
    if node.op == "call_function" and node.target in ADD_FUNCTIONS and len(tensors) == 2:
        return "add"
    if node.op == "call_function" and node.target in CONCAT_FUNCTIONS:
        return "concat"
    if node.op == "call_function" and getattr(node.target, "__name__", "") in POOL_FUNCTIONS:
        return POOL_FUNCTIONS[node.target.__name__][1]
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
                       "profiles know Conv2d, Linear, MaxPool2d, AvgPool2d, "
                       "AdaptiveAvgPool2d, residual adds, channel concatenations, "
                       "activations and reshapes")


def _is_input_normalization(module: nn.Module) -> bool:
    """This package's ``Normalize`` (a model's own input scaling) and torchvision's input
    transforms (:class:`TransformInput`) join the input layer."""
    return isinstance(module, TransformInput) or (
        type(module).__name__ == "Normalize" and hasattr(module, "mean"))


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
    for layer in layers:
        head, tail = kept[layer.head], kept[layer.tail]
        if tail.shape != head.shape and tail.numel() == head.numel():
            # A module folded in after a reshape (AlexNet's Dropout after torch.flatten):
            # the layer's neurons keep its head's shape (channels of a 4-D tensor), and
            # the layers after it read that shape, as DDP reads a Linear's 4-D input.
            kept[layer.tail] = tail.reshape(head.shape)
    return kept


def layer_records(layers: list[ProfileLayer]) -> list[dict]:
    """The layers as JSON-able records (index, kind, name, predecessors, shape)."""
    return [{"index": layer.index, "kind": layer.kind, "name": layer.name,
             "preds": list(layer.preds), "shape": list(layer.shape or ())}
            for layer in layers]
