"""Where torch work runs: CUDA when present, else the CPU."""

from __future__ import annotations

import torch

from core.errors import InvalidRequest


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" → CUDA when present, else CPU; "cuda" without a GPU is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidRequest("--device cuda asked, but no CUDA GPU is available here; use --device cpu or auto.")
    return torch.device(device)
