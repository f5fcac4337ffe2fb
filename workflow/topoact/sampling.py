"""Sampling strategies: which spatial positions of a layer's activation map become points.

All functions take an activation batch ``(B, C, H, W)`` (a linear layer's ``(B, C)``
is viewed as ``(B, C, 1, 1)``) and return the selected ``(batch_index, row, col)``
as int64 tensors on the batch's device, so selection runs where the forward pass ran
and only the chosen vectors travel to the host.
"""

from __future__ import annotations

import numpy as np
import torch

from topoact.names import check_sampling, masked_sampling


def as_spatial(activations: torch.Tensor, skip_tokens: int = 0, layer: str = "") -> torch.Tensor:
    """View a layer output as ``(B, C, H, W)``: a linear layer's (B, C) is one position; a
    sequence of tokens (B, N, C) is one row of N − ``skip_tokens`` positions (the leading
    tokens left out, e.g. a CLS token).

    Raises
    ------
    ValueError
        For any other output (a tuple, a dict, another rank), naming the layer and shape.
    """
    accepted = "accepted: a tensor (B, C, H, W), (B, C) or tokens (B, N, C)"
    if not torch.is_tensor(activations):
        raise ValueError(f"layer {layer!r} outputs a {type(activations).__name__}; {accepted}")
    if activations.dim() == 2:
        return activations[:, :, None, None]
    if activations.dim() == 3:
        tokens = activations[:, skip_tokens:, :]
        if tokens.shape[1] == 0:
            raise ValueError(f"layer {layer!r} outputs {activations.shape[1]} tokens and "
                             f"activations.skip_tokens leaves out {skip_tokens}: none is left")
        return tokens.transpose(1, 2)[:, :, None, :]
    if activations.dim() != 4:
        raise ValueError(f"layer {layer!r} outputs shape {tuple(activations.shape)}; {accepted}")
    return activations


def effective_border(height: int, width: int, border: int) -> int:
    """The border actually excluded: none when the map has no interior at that width."""
    if height > 2 * border and width > 2 * border:
        return border
    return 0


def points_per_image(sampling: str, height: int, width: int) -> int:
    """p, the number of points each image contributes (a masked sampling's p is capped at
    the layer's H·W: a linear layer has one position)."""
    check_sampling(sampling)
    masked = masked_sampling(sampling)
    if masked:
        return min(masked[1], height * width)
    return height * width if sampling == "full" else 1


def random_positions(image_index: np.ndarray, height: int, width: int, seed: int,
                     border: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One uniformly random position per image, avoiding a border of ``border`` cells.

    The draw for image ``i`` depends only on ``(seed, i)``, never on the batch it
    came in, so a rerun with another batch size picks the same positions.

    Parameters
    ----------
    image_index
        Global indices (into the images store) of the batch's images.
    height, width
        Spatial size of the activation map.
    seed
        The run's seed.
    border
        Cells excluded at each edge (TopoAct: "excluding the edges"); ignored, as by
        :func:`effective_border`, when the map is too small to have an interior.

    Returns
    -------
    rows, cols
        int64 arrays, one entry per image.
    """
    border = effective_border(height, width, border)
    rows = np.empty(len(image_index), dtype=np.int64)
    cols = np.empty(len(image_index), dtype=np.int64)
    for k, index in enumerate(image_index):
        rng = np.random.default_rng([seed, int(index)])
        rows[k] = rng.integers(border, height - border)
        cols[k] = rng.integers(border, width - border)
    return rows, cols


def select_positions(activations: torch.Tensor, sampling: str, image_index: np.ndarray,
                     seed: int = 0, border: int = 1, scores: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions that a sampling keeps from an activation batch.

    Parameters
    ----------
    activations
        ``(B, C, H, W)`` (or ``(B, C)``).
    sampling
        ``random``, ``full``, ``top-l2``, ``foreground-top{p}`` or ``background-top{p}``.
    image_index
        Global image indices of the batch (used by ``random``).
    seed, border
        See :func:`random_positions`.
    scores
        ``(B, H·W)`` position scores (row-major), needed by the masked samplings:
        see :class:`topoact.foreground.PositionScorer`.

    Returns
    -------
    batch, rows, cols
        int64 tensors on the activations' device; ``full`` lists each image's
        positions in row-major order, masked samplings by decreasing score (ties in
        row-major order), images in batch order.
    """
    check_sampling(sampling)
    acts = as_spatial(activations)
    b, _, h, w = acts.shape
    device = acts.device
    if sampling == "full":
        batch = torch.arange(b, device=device).repeat_interleave(h * w)
        flat = torch.arange(h * w, device=device).repeat(b)
        return batch, flat // w, flat % w
    masked = masked_sampling(sampling)
    if masked:
        if scores is None or tuple(scores.shape) != (b, h * w):
            raise ValueError(f"{sampling} needs ({b}, {h * w}) position scores, got "
                             f"{None if scores is None else tuple(scores.shape)}")
        top = points_per_image(sampling, h, w)
        flat = torch.argsort(-scores.to(device), dim=1, stable=True)[:, :top].reshape(-1)
        return torch.arange(b, device=device).repeat_interleave(top), flat // w, flat % w
    batch = torch.arange(b, device=device)
    if sampling == "random":
        rows, cols = random_positions(image_index, h, w, seed, border)
        return batch, torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)
    # top-l2: argmax of the squared norm; torch.argmax takes the first maximum in
    # row-major order on ties, which makes the choice deterministic.
    flat = acts.float().pow(2).sum(dim=1).reshape(b, h * w).argmax(dim=1)
    return batch, flat // w, flat % w


def gather_points(activations: torch.Tensor, batch: torch.Tensor, rows: torch.Tensor,
                  cols: torch.Tensor) -> torch.Tensor:
    """The activation vectors ``(P, C)`` at the selected positions."""
    acts = as_spatial(activations)
    return acts[batch, :, rows, cols]
