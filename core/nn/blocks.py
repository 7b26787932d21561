"""Physics-guided message passing blocks: parallel diffusion + advection with a learned gate.

Kernels come from :mod:`core.graph` (``[target, source]`` convention) in a k-nearest-source layout
(dense N × N tensors per hour were ~10× slower on CPU): ``idx`` (N, k) source indices, diffusion
weights ``kd`` (N, k) or (B, L, N, k) row-normalised, advection weights ``ka`` (B, L, N, k) normalised;
``h`` (B, L, N, H). Per-hour weights let a model drop sources that are hidden that hour (spin-2 multiplies
both kernels by the source's observed mask before normalising, so hidden nodes send nothing).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from core.nn.layers import MLP

SPARSE_MIN_EDGES = 20_000  # above this many (target, source) pairs, inference uses a sparse product
DENSE_MAX_NODES = 512  # training graphs up to this size scatter into dense (M, N) weights: one real bmm, 2.4× faster
ADV_NORM = 0.05  # advection rows are divided by (Σ + ADV_NORM): weak transport → weak message
MAP_BLOCK_HOURS = 3  # hours per block of a map readout: ~17k cells × 3 h × 16 floats fit a 2 MB L2 cache


def normalise_advection(ka: torch.Tensor) -> torch.Tensor:
    return ka / (ka.sum(-1, keepdim=True) + ADV_NORM)


def gather_sum(w: torch.Tensor, z: torch.Tensor, idx: torch.Tensor, dense_cache: dict | None = None,
               key: str = "") -> torch.Tensor:
    """``Σ_k w[b,l,m,k] · z[b,l,idx[m,k],:]`` → (B, L, M, R).

    ``w`` (B, L, M, k) or (M, k); ``z`` (B, L, N, R); ``idx`` (M, k). One index_select + one
    batched product (few large ops are much cheaper on a busy CPU than k small ones).
    ``dense_cache``: where training on a small graph keeps the dense (B, L, M, N) form of ``w`` under ``key``, so
    layers that apply the same weights (spin's diffusion and advection kernels in every layer) scatter them once.
    """
    m, k = idx.shape
    if w.dim() == 2:
        w = w.expand(*z.shape[:2], m, k)
    # counted over every hour: the station graph of a day (24 h × 400 nodes × 16 sources) gathered a
    # (B, L, M, k, R) copy and ran 10k one-row products, ~5× slower than the one sparse product
    if not torch.is_grad_enabled() and w.numel() > SPARSE_MIN_EDGES:
        return _sparse_gather_sum(w, z, idx)
    if torch.is_grad_enabled() and max(m, z.shape[2]) <= DENSE_MAX_NODES:
        dense = dense_cache.get(key) if dense_cache is not None else None
        if dense is None:
            dense = z.new_zeros(*w.shape[:-1], z.shape[2]).scatter_add(-1, idx.expand(*w.shape[:-2], m, k), w)
            if dense_cache is not None:
                dense_cache[key] = dense
        return dense @ z
    zk = z.index_select(2, idx.reshape(-1)).unflatten(2, (m, k))  # (B, L, M, k, R)
    return (w.unsqueeze(-2) @ zk).squeeze(-2)


def _sparse_gather_sum(w: torch.Tensor, z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Same as :func:`gather_sum` as one block-diagonal CSR × dense product (inference on big grids:
    never materialises the (B, L, M, k, R) gather)."""
    b, n_h, n, r = z.shape
    m, k = idx.shape
    blocks = b * n_h
    kind = torch.int32 if blocks * max(m * k, n) < 2**31 else torch.int64  # int32 indices: a faster product
    offs = (torch.arange(blocks, device=z.device, dtype=kind) * n).view(blocks, 1, 1)
    col = (idx.to(kind).unsqueeze(0) + offs).reshape(-1)
    crow = torch.arange(0, blocks * m * k + 1, k, device=z.device, dtype=kind)
    mat = _csr(crow, col, w.reshape(-1).contiguous(), (blocks * m, blocks * n))
    return (mat @ z.reshape(blocks * n, r)).view(b, n_h, m, r)


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A CSR matrix without torch's "sparse CSR support is in beta" warning (the product used here is stable)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)


class Propagation(nn.Module):
    """One layer: ``m = g·K_d W_d h + (1−g)·K_a W_a h``, ``h ← LN(h + MLP([h, m]))``.

    The gate ``g`` (B, L, N, 1) is computed per node and hour from ``[h, m_d, m_a]`` so the network
    decides where transport dominates. With one branch disabled (ablation) ``m`` is the other branch.
    """

    def __init__(self, hidden: int, use_diffusion: bool = True, use_advection: bool = True):
        super().__init__()
        if not (use_diffusion or use_advection):
            raise ValueError("Propagation needs diffusion, advection or both")
        self.use_d, self.use_a = use_diffusion, use_advection
        self.wd = nn.Linear(hidden, hidden)
        self.wa = nn.Linear(hidden, hidden)
        self.gate = nn.Linear(3 * hidden, 1)
        self.update = MLP(2 * hidden, hidden, hidden)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h: torch.Tensor, idx: torch.Tensor, kd: torch.Tensor | None, ka: torch.Tensor | None,
                dense_cache: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the new ``h`` and the gate (B, L, N, 1) (1 = all diffusion). ``dense_cache``: shared by the
        layers of one forward pass that get the same ``kd``/``ka`` (see :func:`gather_sum`)."""
        zero = torch.zeros_like(h)
        md = gather_sum(kd, self.wd(h), idx, dense_cache, "diffusion") if self.use_d else zero
        ma = gather_sum(ka, self.wa(h), idx, dense_cache, "advection") if self.use_a else zero
        if self.use_d and self.use_a:
            g = torch.sigmoid(self.gate(torch.cat([h, md, ma], -1)))
        else:
            g = torch.full_like(h[..., :1], 1.0 if self.use_d else 0.0)
        m = g * md + (1 - g) * ma
        return self.norm(h + self.update(torch.cat([h, m], -1))), g


class BipartiteReadout(nn.Module):
    """Cheap readout to receive-only targets (grid cells, or hidden stations as a training signal).

    Each target gathers compact embeddings ``z`` (B, L, N, R) of its k nearest sources that are
    observed at that hour, through diffusion and advection weights mixed by a per-target gate,
    then a small MLP on ``[message, init, static, time]`` gives a correction to the IDW init.
    """

    def __init__(self, hidden: int, r: int, n_static: int, n_time: int):
        super().__init__()
        self.proj = nn.Linear(hidden, r)
        self.gate = nn.Linear(n_static + 1, 1)
        self.head = MLP(r + 1 + n_static + n_time, 2 * r, 1)

    def forward(self, h: torch.Tensor, src_mask: torch.Tensor, u: torch.Tensor | None, v: torch.Tensor | None,
                idx: torch.Tensor, valid: torch.Tensor, dist: torch.Tensor, bearing: torch.Tensor,
                bandwidth: torch.Tensor, init: torch.Tensor, static: torch.Tensor, tfeat: torch.Tensor,
                use_diffusion: bool = True, use_advection: bool = True,
                src_weight: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised-log correction target values (B, L, M). ``idx`` etc. are (M, k); ``init`` (B, L, M).

        ``src_weight`` (M, k): optional extra factor on the diffusion weights (spin-2: terrain similarity).
        """
        from core.graph import advection_kernel_knn

        z = self.proj(h)  # (B, L, N, R)
        if not torch.is_grad_enabled() and idx.numel() > SPARSE_MIN_EDGES:
            return self._forward_map(z, src_mask, u, v, idx, valid, dist, bearing, bandwidth, init, static, tfeat,
                                     use_diffusion, use_advection, src_weight)
        m_src = src_mask[..., idx] * valid.to(h.dtype)  # (B, L, M, k)
        w = torch.zeros_like(m_src)
        # the gate and the head's first layer are split by input block (same weights, same result), so the
        # per-cell and per-hour parts are computed once instead of on every (hour, cell) row
        gw, n_s = self.gate.weight[0], static.shape[-1]
        g = torch.sigmoid((static @ gw[:n_s] + self.gate.bias) + init * gw[n_s]).unsqueeze(-1)
        if use_diffusion:
            wd = torch.exp(-dist / bandwidth) * m_src
            if src_weight is not None:
                wd = wd * src_weight
            wd = wd / (wd.sum(-1, keepdim=True) + 1e-6)
            w = w + (g if use_advection else 1.0) * wd
        if use_advection and u is not None:
            wa = advection_kernel_knn(u, v, idx, dist, bearing, valid) * m_src
            wa = normalise_advection(wa)
            w = w + ((1 - g) if use_diffusion else 1.0) * wa
        msg = gather_sum(w, z, idx)
        first, act, last = self.head
        r = msg.shape[-1]
        wm, wi, ws, wt = first.weight.split([r, 1, n_s, tfeat.shape[-1]], dim=1)
        pre = (msg @ wm.T + init.unsqueeze(-1) * wi[:, 0] + (static @ ws.T + first.bias)
               + (tfeat @ wt.T).unsqueeze(2))
        return last(act(pre)).squeeze(-1)

    def _forward_map(self, z: torch.Tensor, src_mask: torch.Tensor, u: torch.Tensor | None, v: torch.Tensor | None,
                     idx: torch.Tensor, valid: torch.Tensor, dist: torch.Tensor, bearing: torch.Tensor,
                     bandwidth: torch.Tensor, init: torch.Tensor, static: torch.Tensor, tfeat: torch.Tensor,
                     use_diffusion: bool, use_advection: bool, src_weight: torch.Tensor | None) -> torch.Tensor:
        """:meth:`forward` for many targets without autograd (a map): the same numbers up to float rounding.

        Fewer passes over the (P = B·L, M, k) edges: sources are masked once on the node side (``m·z``,
        ``m·u``, ``m·v``: the mask is 0/1, so ``relu(m·x) = m·relu(x)``); the diffusion normaliser
        ``Σ_k c·m`` is one sparse (M × N) product, so the diffusion weight is ``c[m, k] · g / Σ`` without
        gathering the mask; both kernels are added and applied as one block-sparse product. Edges and the
        head run :data:`MAP_BLOCK_HOURS` hours at a time: a block's (hours, cells, ·) arrays stay in cache
        instead of a dozen passes over 25 MB ones (a day on the BTH 0.05° grid: ~1.7× faster). Edge weights
        are built slot-major (hours, k, M), so each elementwise step runs along the cells rather than over a
        last axis of 3 hours or k sources, and are transposed once for the CSR product; the per-cell and
        per-hour parts of the head's first layer are summed once and the [message | init] product accumulated
        into them. The block does not depend on the number of targets.
        """
        from core.graph import ADVECTION_D0_KM, knn_sum

        b, n_h, n, r = z.shape
        m, k = idx.shape
        p = b * n_h
        mask_p = src_mask.reshape(p, n)
        z_m = z.reshape(p, n, r) * mask_p.unsqueeze(-1)
        vf = valid.to(z.dtype)
        init_p = init.reshape(p, m)
        gw, n_s = self.gate.weight[0], static.shape[-1]
        g = torch.sigmoid((static @ gw[:n_s] + self.gate.bias) + init_p * gw[n_s])  # (P, M)
        # edge arrays are source-slot-major, (hours, k, M): every elementwise step runs along the M cells
        c_t = scale = qs = qc = um = vm = None
        if use_diffusion:
            c = torch.exp(-dist / bandwidth) * vf
            if src_weight is not None:
                c = c * src_weight
            scale = 1.0 / (knn_sum(c, idx, mask_p) + 1e-6)  # (P, M)
            if use_advection:
                scale = scale * g
            c_t = c.T.contiguous()  # (k, M)
        advect = use_advection and u is not None
        if advect:
            # relu(u·sin b + v·cos b)·q = relu(u·(q sin b) + v·(q cos b)) for q = valid / (d + d0) ≥ 0
            q = vf / (dist + ADVECTION_D0_KM)
            qs, qc = (q * torch.sin(bearing)).T.contiguous(), (q * torch.cos(bearing)).T.contiguous()  # (k, M)
            um, vm = u.reshape(p, n) * mask_p, v.reshape(p, n) * mask_p  # (P, N)
        first, act, last = self.head
        wm, wi, ws, wt = first.weight.split([r, 1, n_s, tfeat.shape[-1]], dim=1)
        n_hid = wm.shape[0]
        cell = static @ ws.T + first.bias  # (M, H): the per-cell part of the head's first layer
        hour = tfeat.reshape(p, -1) @ wt.T  # (P, H): the per-hour part
        # the message and the init enter the first layer as one product: [msg | init] @ [wm | wi]ᵀ
        w_in = torch.cat([wm, wi], 1).T.contiguous()  # (r + 1, H)
        src_t = idx.T.reshape(-1)  # (k·M,) slot-major sources
        out = z.new_empty(p, m)
        for a in range(0, p, MAP_BLOCK_HOURS):
            e = min(p, a + MAP_BLOCK_HOURS)
            h = e - a
            w = c_t * scale[a:e].unsqueeze(1) if c_t is not None else None  # (h, k, M)
            if advect:
                us = um[a:e].index_select(1, src_t).view(h, k, m)
                ka = (us * qs).addcmul_(vm[a:e].index_select(1, src_t).view(h, k, m), qc).relu_()
                factor = ((1 - g[a:e]) if use_diffusion else 1.0) / (ka.sum(1) + ADV_NORM)  # (h, M)
                w = ka * factor.unsqueeze(1) if w is None else w.addcmul_(ka, factor.unsqueeze(1))
            x = z.new_empty(h, m, r + 1)  # [msg | init] rows of the block
            x[..., r] = init_p[a:e]
            if w is None:
                x[..., :r] = 0.0
            else:
                # int32 indices: the CSR product runs ~1.5× faster than with int64 (h·M·k stays far below 2³¹)
                col = (idx.to(torch.int32) + (torch.arange(h, device=idx.device, dtype=torch.int32) * n).view(h, 1, 1))
                crow = torch.arange(0, h * m * k + 1, k, device=idx.device, dtype=torch.int32)
                mat = _csr(crow, col.reshape(-1), w.transpose(1, 2).reshape(-1), (h * m, h * n))
                x[..., :r] = (mat @ z_m[a:e].reshape(h * n, r)).view(h, m, r)
            # (h, M, H): per-cell + per-hour parts, then the message and init product accumulated in place
            pre = (cell.unsqueeze(0) + hour[a:e].unsqueeze(1)).baddbmm_(x, w_in.expand(h, r + 1, n_hid))
            out[a:e] = (act(pre).view(-1, n_hid) @ last.weight[0] + last.bias[0]).view(h, m)
        return out.view(b, n_h, m)
