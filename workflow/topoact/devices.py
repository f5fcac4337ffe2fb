"""Where torch runs: the config's ``device`` resolved, and the squared norms of a cloud
on it; a module that loads torch only when asked (the ε estimate imports it and needs
torch only for large clouds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` fails clearly without a GPU."""
    import torch  # here: importing this module stays light

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} requested but torch sees no CUDA device "
                           "(set device: auto or cpu)")
    return torch.device(device)


def set_threads(threads: int) -> None:
    """torch's thread count (the engine runs one worker per thread on a CPU)."""
    import torch  # here: importing this module stays light

    torch.set_num_threads(int(threads))


def squared_norms(cloud: torch.Tensor) -> torch.Tensor:
    """Squared row norms, 8 MB of rows at a time (``cloud.pow(2)`` would be a second copy
    of the cloud)."""
    import torch  # loaded already: the caller holds a tensor

    rows = max(1, (8 << 20) // (4 * max(cloud.shape[1], 1)))
    return torch.cat([chunk.pow(2).sum(dim=1) for chunk in cloud.split(rows)])
