"""Small reusable layers. Tensors are ``(B, L, N, H)``: windows, hours, nodes, channels."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Sequential):
    """``Linear → GELU → Linear`` (two layers, no output activation)."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int):
        super().__init__(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out))


class TemporalConv(nn.Module):
    """Residual dilated 1-D convolution over hours, applied to every node independently.

    Non-causal ("same" padding): interpolation may read both earlier and later hours of the window.
    ``(B, L, N, H) → (B, L, N, H)``; works for any ``L`` and any number of nodes ``N``.
    """

    def __init__(self, hidden: int, kernel: int = 3, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(hidden, hidden, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, n_h, n, c = h.shape
        z = h.permute(0, 2, 3, 1).reshape(b * n, c, n_h)
        z = torch.nn.functional.gelu(self.conv(z)).reshape(b, n, c, n_h).permute(0, 3, 1, 2)
        return self.norm(h + z)


class TCN(nn.Module):
    """Stack of :class:`TemporalConv` with dilations 1, 2, 4, … (receptive field grows exponentially)."""

    def __init__(self, hidden: int, n_layers: int = 2, kernel: int = 3):
        super().__init__()
        self.layers = nn.ModuleList(TemporalConv(hidden, kernel, 2**i) for i in range(n_layers))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h = layer(h)
        return h
