"""Where torch runs: the config's ``device`` resolved, in a module that loads torch only
when a device is asked for (the ε estimate imports it and needs torch only for large
clouds)."""

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
