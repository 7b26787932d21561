"""IGNNK — Inductive Graph Neural Network Kriging (Wu, Zhuang, Labbe & Sun, AAAI 2021), re-implemented.

Written from the paper's description (no code copied):

- graph: a Gaussian kernel of great-circle distance, ``W_ij = exp(-(d_ij / σ)²)`` (no self loops);
  forward and backward random-walk transitions ``P_f = rownorm(W)``, ``P_b = rownorm(Wᵀ)``
  (identical for a symmetric kernel; kept apart as in the paper, which also serves directed graphs);
- diffusion graph convolution (D-GCN) of order K:
  ``Z = X Θ₀ + Σ_{k=1..K} (P_fᵏ X) Θ_{f,k} + (P_bᵏ X) Θ_{b,k}``;
- three D-GCN layers: ``H₁ = relu(D₁(X))``, ``H₂ = relu(D₂(H₁)) + H₁``, ``X̂ = D₃(H₂)``;
  a node's features are its ``h`` time steps (the whole window is one feature vector);
- training (the engine, with this spec's settings): random sub-graphs of the training stations and random
  time windows; a random subset of the sub-graph's nodes is masked (input set to 0); the loss is
  the reconstruction error on *all* nodes of the sub-graph (the paper's choice: it forces the
  network to learn message passing, not only the identity on observed nodes);
- inference: unobserved stations and grid cells enter as nodes with input 0. Grid cells are
  *query* nodes (:meth:`IGNNK.forward_queries`): they read from the station graph but do not
  feed back into it, so a surface never changes the station predictions and can be chunked.

Inputs are PM2.5 divided by a constant ``scale`` (µg/m³), the paper's linear scaling;
the model is a plain ``nn.Module`` — training and the Kriger wrapper live in ``core.engine``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.contracts.model_spec import ModelSpec
from core.contracts.registry import register_spec
from core.nn.losses import LossWeights

ARCH_VERSION = "ignnk-1"
GRID_CHUNK = 4096  # query rows per pass (exact: query nodes do not interact)


def gaussian_adjacency(dist_km: torch.Tensor, sigma_km: float) -> torch.Tensor:
    """``exp(-(d/σ)²)`` with a zero diagonal (rows: receivers, columns: senders).

    ``dist_km``: ``(..., N, N)`` (or ``(..., M, N)`` for query rows — no diagonal is zeroed then).
    """
    w = torch.exp(-((dist_km / sigma_km) ** 2))
    if w.shape[-1] == w.shape[-2]:
        w = w * (1.0 - torch.eye(w.shape[-1], dtype=w.dtype, device=w.device))
    return w


def random_walk(w: torch.Tensor) -> torch.Tensor:
    """Row-normalised transition ``D⁻¹ W`` (rows with no neighbour stay zero)."""
    return w / w.sum(-1, keepdim=True).clamp_min(1e-8)


def transitions(dist_km: torch.Tensor, sigma_km: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward / backward transitions ``(P_f, P_b)`` of a node graph, each ``(..., N, N)``."""
    w = gaussian_adjacency(dist_km, sigma_km)
    return random_walk(w), random_walk(w.transpose(-1, -2))


class DiffusionGraphConv(nn.Module):
    """D-GCN: ``X Θ₀ + Σ_k (P_fᵏ X) Θ_{f,k} + (P_bᵏ X) Θ_{b,k}``; features ``(B, N, in) → (B, N, out)``."""

    def __init__(self, in_dim: int, out_dim: int, order: int) -> None:
        super().__init__()
        self.order = order
        self.theta_self = nn.Linear(in_dim, out_dim)
        self.theta_fwd = nn.ModuleList(nn.Linear(in_dim, out_dim, bias=False) for _ in range(order))
        self.theta_bwd = nn.ModuleList(nn.Linear(in_dim, out_dim, bias=False) for _ in range(order))

    def forward(self, x: torch.Tensor, p_fwd: torch.Tensor, p_bwd: torch.Tensor) -> torch.Tensor:
        """``x`` (B, N, in); ``p_fwd``/``p_bwd`` (B or 1, N, N) → (B, N, out)."""
        out = self.theta_self(x)
        xf, xb = x, x
        for k in range(self.order):
            xf, xb = p_fwd @ xf, p_bwd @ xb
            out = out + self.theta_fwd[k](xf) + self.theta_bwd[k](xb)
        return out

    def forward_queries(self, x_nodes: torch.Tensor, x_q: torch.Tensor, q_fwd: torch.Tensor, q_bwd: torch.Tensor,
                        p_fwd: torch.Tensor, p_bwd: torch.Tensor) -> torch.Tensor:
        """The same convolution evaluated at query nodes that only *receive* from the graph.

        ``x_nodes`` (B, N, in), ``x_q`` (B, M, in), ``q_*`` (M, N) transitions query ← node (dense, or
        sparse ``(idx, w)``, see :func:`apply_rows`);
        the k-th power's query rows are ``Q P^{k-1}``. Returns (B, M, out).
        """
        out = self.theta_self(x_q)
        xf, xb = x_nodes, x_nodes
        for k in range(self.order):
            out = out + self.theta_fwd[k](apply_rows(q_fwd, xf)) + self.theta_bwd[k](apply_rows(q_bwd, xb))
            xf, xb = p_fwd @ xf, p_bwd @ xb
        return out


def apply_rows(q, h: torch.Tensor) -> torch.Tensor:
    """``Q @ h`` for query rows ``Q`` given dense ``(M, N)`` or sparse as ``(idx (M, k), w (M, k))``.

    ``h`` (B, N, F) → (B, M, F). The sparse form gathers the k sources of each row (grid cells
    link to their k nearest stations), far cheaper than a dense (M, N) product for big grids.
    """
    if isinstance(q, torch.Tensor):
        return q @ h
    idx, w = q
    return (h[:, idx] * w.unsqueeze(-1)).sum(-2)


class IGNNK(nn.Module):
    """Three D-GCN layers reconstructing a ``(node, h)`` signal from a masked one.

    ``forward(x, p_fwd, p_bwd)``: ``x`` (B, N, h) = PM2.5 / ``scale`` with 0 at masked / missing
    nodes; returns the reconstruction (B, N, h) in the same scaled units.
    """

    def __init__(self, window: int = 24, hidden: int = 64, order: int = 2, sigma_km: float = 60.0,
                 scale: float = 100.0) -> None:
        super().__init__()
        self.window, self.hidden, self.order = window, hidden, order
        self.register_buffer("sigma_km", torch.tensor(float(sigma_km)))
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.gc1 = DiffusionGraphConv(window, hidden, order)
        self.gc2 = DiffusionGraphConv(hidden, hidden, order)
        self.gc3 = DiffusionGraphConv(hidden, window, order)

    def hparams(self) -> dict:
        return {"window": self.window, "hidden": self.hidden, "order": self.order,
                "sigma_km": float(self.sigma_km), "scale": float(self.scale)}

    def transitions(self, dist_km: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return transitions(dist_km, float(self.sigma_km))

    def forward(self, x: torch.Tensor, p_fwd: torch.Tensor, p_bwd: torch.Tensor) -> torch.Tensor:
        h1 = torch.relu(self.gc1(x, p_fwd, p_bwd))
        h2 = torch.relu(self.gc2(h1, p_fwd, p_bwd)) + h1
        return self.gc3(h2, p_fwd, p_bwd)

    def forward_queries(self, x: torch.Tensor, p_fwd: torch.Tensor, p_bwd: torch.Tensor,
                        q_fwd: torch.Tensor, q_bwd: torch.Tensor) -> torch.Tensor:
        """Reconstruction at M query nodes (grid cells) with zero input: (B, M, h)."""
        m = q_fwd.shape[0] if isinstance(q_fwd, torch.Tensor) else q_fwd[0].shape[0]
        xq = x.new_zeros(x.shape[0], m, x.shape[2])
        h1 = torch.relu(self.gc1(x, p_fwd, p_bwd))
        h1q = torch.relu(self.gc1.forward_queries(x, xq, q_fwd, q_bwd, p_fwd, p_bwd))
        h2 = torch.relu(self.gc2(h1, p_fwd, p_bwd)) + h1
        h2q = torch.relu(self.gc2.forward_queries(h1, h1q, q_fwd, q_bwd, p_fwd, p_bwd)) + h1q
        return self.gc3.forward_queries(h2, h2q, q_fwd, q_bwd, p_fwd, p_bwd)


def query_transitions(dist_q_km: torch.Tensor, sigma_km: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Query-row transitions ``(Q_f, Q_b)`` from query ← node distances ``(M, N)``.

    For the symmetric Gaussian kernel the backward row of a query equals its forward row.
    """
    q = random_walk(gaussian_adjacency(dist_q_km, sigma_km))
    return q, q


def default_sigma_km(dist_km: np.ndarray) -> float:
    """The paper's bandwidth choice: the standard deviation of the pairwise distances (km)."""
    off = dist_km[~np.eye(len(dist_km), dtype=bool)]
    return float(np.std(off)) if off.size else 50.0


class IGNNKNet(nn.Module):
    """:class:`IGNNK` on the engine batch (:mod:`core.nn.features`); ``forward(batch) -> dict``.

    Input: PM2.5 µg/m³ at observed nodes (from ``x``, ``center``, ``mask``) ÷ ``scale``, 0 elsewhere,
    as ``(B, N, h)`` with the window's ``h`` hours as node features (a shorter last chunk is
    zero-padded). In training mode every window also gets a random sub-graph: a share
    ``U(sub_lo, sub_hi)`` of the nodes is kept, the others are cut out of the graph (no edges, no
    input) — the paper's random sub-graph sampling; the engine's dynamic masking then hides a random
    share of nodes, which the network must reconstruct from the rest.

    Outputs: ``pred`` (B, L, N) µg/m³, ``recon`` (B, L, N) scaled reconstruction (for the loss),
    ``subgraph`` (B, N) 1.0 for nodes in the sampled sub-graph (all ones outside training),
    ``grid_pred`` (B, L, M) with ``tgt_*`` keys (grid cells as receive-only query nodes).
    """

    def __init__(self, window: int = 24, hidden: int = 64, order: int = 2, sigma_km: float = 60.0,
                 scale: float = 100.0, sub_lo: float = 0.5, sub_hi: float = 1.0, target_k: int = 12) -> None:
        super().__init__()
        self.core = IGNNK(window, hidden, order, sigma_km, scale)
        self.sub_lo, self.sub_hi = sub_lo, sub_hi

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, mask, center = batch["x"], batch["mask"], batch["center"]
        b, length, n = x.shape
        h = self.core.window
        if length > h:
            raise ValueError(f"ignnk reads windows of at most {h} hours, got {length}")
        scale = self.core.scale
        raw = torch.expm1((x + center.unsqueeze(-1)).clamp(max=8.0)).clamp_min(0.0) * mask
        inp = torch.nn.functional.pad((raw / scale).transpose(1, 2), (0, h - length))  # (B, N, h)
        w = gaussian_adjacency(batch["dist"], float(self.core.sigma_km))  # (N, N)
        keep = torch.ones(b, n, dtype=x.dtype, device=x.device)
        if self.training:
            share = torch.empty(b, 1, device=x.device).uniform_(self.sub_lo, self.sub_hi)
            keep = (torch.rand(b, n, device=x.device) < share).to(x.dtype)
            w = w.unsqueeze(0) * keep.unsqueeze(1) * keep.unsqueeze(2)  # cut the other nodes out
            inp = inp * keep.unsqueeze(-1)
        p_f, p_b = random_walk(w), random_walk(w.transpose(-1, -2))
        if p_f.dim() == 2:
            p_f, p_b = p_f.unsqueeze(0), p_b.unsqueeze(0)
        recon = self.core(inp, p_f, p_b)[..., :length].transpose(1, 2)  # (B, L, N)
        out = {"recon": recon, "pred": (recon * scale).clamp_min(0.0), "subgraph": keep, "scale": scale}
        if "tgt_idx" in batch:
            out["grid_pred"] = self._grid(inp, p_f, p_b, batch, length)
        return out

    def _grid(self, inp: torch.Tensor, p_f: torch.Tensor, p_b: torch.Tensor, batch: dict,
              length: int) -> torch.Tensor:
        """Grid cells as receive-only nodes, linked to their ``k`` nearest stations (``tgt_*``): (B, L, M)."""
        idx, valid, dist = batch["tgt_idx"], batch["tgt_valid"], batch["tgt_dist"]
        w = random_walk(torch.exp(-((dist / self.core.sigma_km) ** 2)) * valid.to(dist.dtype))  # (M, k)
        outs = []
        for a in range(0, idx.shape[0], GRID_CHUNK):
            q = (idx[a:a + GRID_CHUNK], w[a:a + GRID_CHUNK])  # sparse rows: the k nearest stations
            outs.append(self.core.forward_queries(inp, p_f, p_b, q, q))
        return (torch.cat(outs, 1)[..., :length].transpose(1, 2) * self.core.scale).clamp_min(0.0)


def reconstruction_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                        weights: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's objective: mean squared reconstruction error over *all* nodes of the sampled
    sub-graph (observed and masked) where the truth is known, on the scaled values.

    Only the scored hours (``loss_mask``'s time span) count. ``weights`` is unused (no extra terms).
    """
    scored = (batch["loss_mask"].sum(-1, keepdim=True) > 0).to(batch["y"].dtype)  # (B, L, 1) scored hours
    lm = out["subgraph"].unsqueeze(1) * batch["y_mask"] * scored
    y = batch["y"] / out["scale"]
    loss = (((out["recon"] - y) ** 2) * lm).sum() / lm.sum().clamp_min(1.0)
    return loss, {"recon_mse": float(loss.detach())}


DEFAULTS = {
    "window": 24, "predict": 24, "hidden": 64, "order": 2, "sigma_km": 60.0, "scale": 100.0,
    "sub_lo": 0.5, "sub_hi": 1.0, "target_k": 12, "init_loss": 0.0,
}

SPEC = register_spec(ModelSpec(
    name="ignnk", arch_version=ARCH_VERSION, build=lambda hp: IGNNKNet(**hp), defaults=DEFAULTS, wind="none",
    loss=reconstruction_loss,
))

