"""Graph kernels between monitoring stations (and grid cells): distance, diffusion, advection.

Conventions (used by every model): matrices are indexed ``[target i, source j]``, so a
message is ``m_i = Σ_j K[i, j] h_j``. Distances are great-circle km (:mod:`core.geo`);
``bearing[i, j]`` is the initial bearing **from source j to target i**, radians clockwise
from north, so the unit vector j→i is ``(east, north) = (sin b, cos b)``.

- diffusion: ``K_d[i, j] = exp(-d_ij / bw)`` for ``0 < d_ij ≤ threshold`` (learnable ``bw``);
- advection: ``K_a[t, i, j] = relu(u_j sin b_ij + v_j cos b_ij) / (d_ij + d0)`` — only the part
  of the wind at j that blows toward i, weaker with distance; a perpendicular or opposite wind
  gives exactly 0. Wind ``(u, v)`` is measured (MetSource / ``u10, v10``) or inferred by the network.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from core.geo import bearing_rad, haversine_km

DEFAULT_THRESHOLD_KM = 200.0
ADVECTION_D0_KM = 10.0  # softens 1/d so co-located stations do not dominate


@dataclass(frozen=True)
class Geometry:
    """Pairwise geometry ``[target, source]``: ``dist_km`` and ``bearing`` (rad, source→target), float32."""

    dist_km: np.ndarray
    bearing: np.ndarray

    @classmethod
    def between(cls, tgt_lat: np.ndarray, tgt_lon: np.ndarray, src_lat: np.ndarray, src_lon: np.ndarray) -> Geometry:
        """Geometry from sources ``(n_src,)`` to targets ``(n_tgt,)`` → arrays ``(n_tgt, n_src)``."""
        dist = haversine_km(tgt_lat, tgt_lon, src_lat, src_lon)
        # bearing_rad(a, b) is from a to b: we need source→target, i.e. bearing_rad(src, tgt).T
        bear = bearing_rad(src_lat, src_lon, tgt_lat, tgt_lon).T
        return cls(dist.astype("float32"), bear.astype("float32"))

    @classmethod
    def among(cls, lat: np.ndarray, lon: np.ndarray) -> Geometry:
        """Geometry among one set of nodes ``(n,)`` → ``(n, n)``."""
        return cls.between(lat, lon, lat, lon)


def knn_sources(dist_km: np.ndarray, k: int, threshold_km: float = DEFAULT_THRESHOLD_KM,
                exclude_self: bool = False, stable_ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest sources of every target: indices ``(n_tgt, k)`` int64 and validity ``(n_tgt, k)`` bool.

    Sources beyond ``threshold_km`` (or at distance 0 when ``exclude_self``) are marked invalid.
    ``stable_ties``: equal distances (co-located stations) go to the lower source index, also at the k-th
    place, so the same sources in any column subset — a tile's halo, the whole network — give the same
    neighbours in the same order (grid targets use it; the station graph keeps its shipped order).
    """
    d = dist_km.astype("float64").copy()
    if exclude_self:
        d[d <= 1e-6] = np.inf
    k = min(k, d.shape[1])
    if stable_ties:
        return _knn_stable(np.where(np.isnan(d), np.inf, d), k, threshold_km)
    idx = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else np.tile(np.arange(d.shape[1]), (len(d), 1))
    dk = np.take_along_axis(d, idx, axis=1)
    order = np.argsort(dk, axis=1)
    idx, dk = np.take_along_axis(idx, order, axis=1), np.take_along_axis(dk, order, axis=1)
    return idx.astype("int64"), np.isfinite(dk) & (dk <= threshold_km)


def _knn_stable(d: np.ndarray, k: int, threshold_km: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn_sources` with ties broken by source index (``d`` without NaN)."""
    n_src = d.shape[1]
    if k == 0:
        return np.zeros((len(d), 0), "int64"), np.zeros((len(d), 0), bool)
    if k < n_src:
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(d, part, axis=1).max(axis=1, keepdims=True)  # the k-th smallest distance
        less, tie = d < kth, d == kth
        need = k - less.sum(axis=1, keepdims=True)
        take = less | (tie & (np.cumsum(tie, axis=1) <= need))  # the lowest-index ties fill the last places
        idx = np.nonzero(take)[1].reshape(len(d), k)  # ascending source index in each row
    else:
        idx = np.tile(np.arange(n_src), (len(d), 1))
    dk = np.take_along_axis(d, idx, axis=1)
    order = np.argsort(dk, axis=1, kind="stable")  # by distance, ties by source index
    idx, dk = np.take_along_axis(idx, order, axis=1), np.take_along_axis(dk, order, axis=1)
    return idx.astype("int64"), np.isfinite(dk) & (dk <= threshold_km)


def diffusion_kernel(dist_km: torch.Tensor, bandwidth_km: torch.Tensor,
                     threshold_km: float = DEFAULT_THRESHOLD_KM, exclude_self: bool = True) -> torch.Tensor:
    """Unnormalised diffusion weights ``exp(-d / bw)`` inside ``(0, threshold]`` km; same shape as ``dist_km``.

    ``bandwidth_km`` is a (learnable) positive scalar tensor; gradients flow into it.
    """
    w = torch.exp(-dist_km / bandwidth_km)
    keep = dist_km <= threshold_km
    if exclude_self:
        keep = keep & (dist_km > 1e-6)
    return w * keep.to(w.dtype)


def advection_kernel(u: torch.Tensor, v: torch.Tensor, dist_km: torch.Tensor, bearing: torch.Tensor,
                     threshold_km: float = DEFAULT_THRESHOLD_KM, d0_km: float = ADVECTION_D0_KM) -> torch.Tensor:
    """Directed advection weights ``[..., target, source]``.

    ``u, v``: wind at the **sources**, shape ``(..., n_src)`` (m/s or any consistent unit);
    ``dist_km, bearing``: ``(n_tgt, n_src)``. Returns ``(..., n_tgt, n_src)``:
    ``relu(u_j sin b_ij + v_j cos b_ij) / (d_ij + d0)``, zero beyond ``threshold_km`` and on the diagonal.
    """
    proj = u.unsqueeze(-2) * torch.sin(bearing) + v.unsqueeze(-2) * torch.cos(bearing)
    keep = ((dist_km <= threshold_km) & (dist_km > 1e-6)).to(proj.dtype)
    return torch.relu(proj) * keep / (dist_km + d0_km)


def advection_kernel_knn(u: torch.Tensor, v: torch.Tensor, idx: torch.Tensor, dist_km: torch.Tensor,
                         bearing: torch.Tensor, valid: torch.Tensor, d0_km: float = ADVECTION_D0_KM) -> torch.Tensor:
    """Advection weights for a k-nearest-source layout (bipartite readout to many targets).

    ``u, v``: ``(..., n_src)``; ``idx, dist_km, bearing, valid``: ``(n_tgt, k)``. Returns ``(..., n_tgt, k)``.
    """
    us, vs = u[..., idx], v[..., idx]
    proj = us * torch.sin(bearing) + vs * torch.cos(bearing)
    return torch.relu(proj) * valid.to(proj.dtype) / (dist_km + d0_km)


def row_normalise(w: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Rows (last axis) summing to 1 where they have any weight, 0 otherwise."""
    return w / (w.sum(-1, keepdim=True) + eps)


def idw_weights(dist_km: torch.Tensor, power: float = 2.0, min_km: float = 1.0) -> torch.Tensor:
    """Inverse-distance weights ``1 / max(d, min_km)^power`` (unnormalised)."""
    return dist_km.clamp_min(min_km).pow(-power)


def knn_csr(w: torch.Tensor, idx: torch.Tensor, n_src: int) -> torch.Tensor:
    """The k-nearest layout ``w, idx`` (M, k) as a sparse CSR ``(M, n_src)`` matrix (weight 0 = no edge)."""
    m, k = idx.shape
    kind = torch.int32 if m * k < 2**31 else torch.int64  # int32 indices: a faster sparse product
    crow = torch.arange(0, m * k + 1, k, device=idx.device, dtype=kind)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, idx.reshape(-1).to(kind), w.reshape(-1).contiguous(), size=(m, n_src),
                                       check_invariants=False)


def knn_sum(w: torch.Tensor, idx: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``Σ_k w[m, k] · values[..., idx[m, k]]`` for fixed weights ``w`` (M, k): ``values`` (..., N) → (..., M).

    One sparse (M × N) product instead of a (…, M, k) gather (on a map, M·k is millions: ~20× cheaper).
    Inference only (no autograd through the sparse product).
    """
    lead, n = values.shape[:-1], values.shape[-1]
    out = knn_csr(w.to(values.dtype), idx, n) @ values.reshape(-1, n).T.contiguous()  # (M, prod(lead))
    return out.T.reshape(*lead, idx.shape[0])


def knn_sum_channels(w: torch.Tensor, idx: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Same as :func:`knn_sum` over channels: ``values`` (..., N, R) → node-major ``(M, prod(...), R)``."""
    n, r = values.shape[-2:]
    flat = values.reshape(-1, n, r).transpose(0, 1).reshape(n, -1)  # (N, P·R)
    out = knn_csr(w.to(values.dtype), idx, n) @ flat
    return out.view(idx.shape[0], -1, r)
