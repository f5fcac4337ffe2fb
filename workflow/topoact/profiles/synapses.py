"""Influential neurons of a layer and their synapses to the layer(s) before it, with
DDP's formulas per layer kind (``_channel_*`` and ``_element_*``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from topoact.profiles.tables import ProfileError
from topoact.profiles.trace import ProfileLayer

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


def _concat(xs: list[torch.Tensor], infl: torch.Tensor, neuron: str) -> Synapses:
    """A channel concatenation (this package's rule; DDP has none): channel c of the
    output is channel c − offset_b of the branch b it comes from, so each influential
    neuron comes from that same neuron of its branch with weight 1, as a pooling layer
    passes its neurons on. Elements likewise: (c, i, j) from (c − offset_b, i, j)."""
    channels = torch.tensor([0, *(x.shape[0] for x in xs)], device=infl.device).cumsum(0)
    per_channel = 1 if neuron == "channel" or xs[0].dim() == 1 else \
        int(np.prod(xs[0].shape[1:]))
    channel = infl // per_channel
    branch = torch.searchsorted(channels, channel, right=True) - 1
    source = infl - channels[branch] * per_channel
    return Synapses.join([Synapses.of(infl[branch == b], source[branch == b],
                                      torch.ones(int((branch == b).sum())), b)
                          for b in range(len(xs))])


def _spatial(infl: torch.Tensor, shape: Sequence[int]) -> tuple[torch.Tensor, ...]:
    """Flat element indices of a (C, H, W) activation as channel, row, column."""
    h, w = shape[-2], shape[-1]
    return infl // (h * w), (infl % (h * w)) // w, infl % w


def _windows(x: torch.Tensor, i: torch.Tensor, j: torch.Tensor, stride, size
             ) -> torch.Tensor:
    """The window at output position (i, j) of every channel: (n, C, kh, kw); ``stride``
    and ``size`` are ints or (rows, columns) pairs."""
    (sh, sw), (kh, kw) = _pair(stride), _pair(size)
    rows = (sh * i).unsqueeze(1) + torch.arange(kh, device=x.device)
    cols = (sw * j).unsqueeze(1) + torch.arange(kw, device=x.device)
    return x[:, rows[:, :, None], cols[:, None, :]].permute(1, 0, 2, 3)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _padded(x: torch.Tensor, y_shape, stride: int, size: int, pad: int) -> torch.Tensor:
    """``x`` zero-padded by ``pad`` on every side, and on the right and bottom as far as
    the last window of a ``ceil_mode`` pooling reaches (positions there are dropped as
    padding)."""
    h, w = x.shape[-2:]
    extra_h = max(0, (y_shape[-2] - 1) * stride + size - (h + 2 * pad))
    extra_w = max(0, (y_shape[-1] - 1) * stride + size - (w + 2 * pad))
    return F.pad(x, (pad, pad + extra_w, pad, pad + extra_h))


def _element_conv(x: torch.Tensor, y_shape, infl: torch.Tensor, conv: nn.Conv2d,
                  threshold: float) -> Synapses:
    """Receptive-field products W·x (not clipped), DDP's share of them; contributors in
    the zero padding are dropped after the share is taken (as DDP does). A kh × kw
    kernel (Inception-v3's 1 × 7) caps the share at kh·kw, as DDP's k × k caps at k²."""
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    c_in, h, w = x.shape
    ch, i, j = _spatial(infl, y_shape)
    field = _windows(F.pad(x, (pw, pw, ph, ph)), i, j, (sh, sw), (kh, kw))
    z = (conv.weight[ch] * field).reshape(len(infl), c_in * kh * kw)
    rows, order, weights = _sorted_keep(z, threshold, cap=kh * kw)  # DDP: k², not C·k²
    src_c, src_i = order // (kh * kw), (order % (kh * kw)) // kw + sh * i[rows] - ph
    src_j = order % kw + sw * j[rows] - pw
    valid = (src_i >= 0) & (src_i < h) & (src_j >= 0) & (src_j < w)
    sources = (src_c * h + src_i) * w + src_j
    return Synapses.of(infl[rows][valid], sources[valid], weights[valid])


def _element_maxpool(x: torch.Tensor, y_shape, infl: torch.Tensor, pool: nn.MaxPool2d
                     ) -> Synapses:
    """Each element from its window's maximum (zero padding), weighted by that maximum."""
    k, stride, pad = pool.kernel_size, pool.stride, pool.padding
    _, h, w = x.shape
    ch, i, j = _spatial(infl, y_shape)
    field = _windows(_padded(x, y_shape, stride, k, pad), i, j, stride, k)
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


def _element_fixed_avgpool(x: torch.Tensor, y_shape, infl: torch.Tensor,
                           pool: nn.AvgPool2d, threshold: float) -> Synapses:
    """An ``AvgPool2d`` (a fixed k × k window, count_include_pad): DDP's rule for
    adaptive average pooling with that window — the window's elements clipped at 0 over
    k², DDP's share of them; contributors in the padding are dropped."""
    k, stride, pad = pool.kernel_size, pool.stride, pool.padding
    _, h, w = x.shape
    ch, i, j = _spatial(infl, y_shape)
    field = _windows(_padded(x, y_shape, stride, k, pad), i, j, stride, k)
    field = field[torch.arange(len(infl)), ch]
    field = torch.where(field > 0, field, torch.zeros_like(field)).reshape(len(infl), k * k)
    rows, order, weights = _sorted_keep(field / k**2, threshold, cap=k * k)
    src_i, src_j = order // k + stride * i[rows] - pad, order % k + stride * j[rows] - pad
    valid = (src_i >= 0) & (src_i < h) & (src_j >= 0) & (src_j < w)
    sources = (ch[rows] * h + src_i) * w + src_j
    return Synapses.of(infl[rows][valid], sources[valid], weights[valid])


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
    if kind == "concat":
        if sum(x.shape[0] for x in xs) != y.shape[0] or any(x.shape[1:] != y.shape[1:]
                                                             for x in xs):
            raise ProfileError(f"concatenation {layer.name!r} joins shapes "
                               f"{[tuple(x.shape) for x in xs]} into {tuple(y.shape)}")
        return _concat(xs, infl, neuron)
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
    if isinstance(module, nn.AvgPool2d):
        return _element_fixed_avgpool(xs[0], y.shape, infl, module, threshold)
    return _element_avgpool(xs[0], y.shape, infl, module, threshold)
