"""Differentiable local ordinary kriging in torch (the ``spin`` initial estimate).

Values are on the normalised log scale of :mod:`core.nn.features` (``log1p(µg/m³) − center``).
The variogram is one global spherical model with unit sill, ``γ(h) = c0 + (1 − c0)·sph(h / a)``
(``c0`` nugget fraction, ``a`` range km, ``γ(h < 0.01 km) = 0`` so kriging is exact at a source);
ordinary-kriging weights do not depend on the sill, so the per-hour spread needs no parameter.
Each target solves one ``(k+1) × (k+1)`` system over its ``k`` candidate sources; candidates not
observed at that hour are decoupled from the system (weight 0, as :mod:`core.baselines.ok` does).
A target with no observed candidate gets NaN (callers fall back to IDW).
"""

from __future__ import annotations

import torch

from core.graph import knn_sum

ZERO_LAG_KM = 0.01
# Without autograd, a window of at least this many hours (batch × hours) solves one system per window and
# target. The choice depends on the window only, never on how many targets a call has, so a map cut into
# tiles gets exactly the values of the whole map (3 hours: the old 50,000-system rule at a BTH 0.05° map).
DEDUPE_MIN_HOURS = 3


def spherical_unit(h: torch.Tensor, nugget: torch.Tensor, range_km: torch.Tensor) -> torch.Tensor:
    """Unit-sill spherical variogram of distances ``h`` km (any shape)."""
    x = (h / range_km).clamp(max=1.0)
    g = nugget + (1.0 - nugget) * (1.5 * x - 0.5 * x**3)
    return torch.where(h < ZERO_LAG_KM, torch.zeros_like(g), g)


def ok_weights(d0: torch.Tensor, dcc: torch.Tensor, ok: torch.Tensor, nugget: torch.Tensor,
               range_km: torch.Tensor) -> torch.Tensor:
    """Kriging weights ``(…, k)`` (0 on unobserved candidates; each row sums to 1 when any is observed).

    ``d0`` (…, k) target–candidate km; ``dcc`` (…, k, k) candidate–candidate km; ``ok`` (…, k) 1/0.
    """
    return ok_weights_from_gamma(spherical_unit(d0, nugget, range_km), spherical_unit(dcc, nugget, range_km), ok)


def _ok_lhs(gcc: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """The left side ``a`` (…, k+1, k+1) of the OK system of :func:`ok_weights_from_gamma`."""
    k = gcc.shape[-1]
    okf = ok.to(gcc.dtype)
    a = gcc.new_empty(*okf.shape[:-1], k + 1, k + 1)
    # unobserved candidates: identity row/column (decoupled, weight 0); observed diagonal γ(0) = 0 with a tiny
    # negative jitter (as the numpy OK) that keeps co-located candidates solvable
    a[..., :k, :k] = gcc * (okf.unsqueeze(-1) * okf.unsqueeze(-2))
    a[..., :k, :k].diagonal(dim1=-2, dim2=-1).copy_(1 - 1.000001 * okf)
    a[..., :k, k] = okf
    a[..., k, :k] = okf
    a[..., k, k] = (okf.sum(-1) <= 0).to(gcc.dtype)  # no observed candidate: dummy row, a solvable system
    return a


def _ok_rhs(g0: torch.Tensor, okf: torch.Tensor) -> torch.Tensor:
    """The right side (…, k+1, 1) of the OK system: ``γ(d0)`` of the observed candidates, then 1 (unbiasedness)."""
    k = g0.shape[-1]
    rhs = g0.new_empty(*okf.shape[:-1], k + 1, 1)
    rhs[..., :k, 0] = g0 * okf
    rhs[..., k, 0] = 1.0
    return rhs


def ok_weights_from_gamma(g0: torch.Tensor, gcc: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """:func:`ok_weights` from the variogram values ``g0 = γ(d0)`` (…, k) and ``gcc = γ(dcc)`` (…, k, k).

    γ of a fixed geometry depends on coordinates only, so a caller may compute it once (:class:`GammaCache`):
    on a map the spherical variogram of every (cell, candidate, candidate) triple cost more than the solves.
    The system is written block by block into one tensor: the same values as adding masked ``g`` and identity
    terms (``x·1 + 0`` and ``0 + d`` are exact), with fewer passes over (…, k+1, k+1).
    """
    okf = ok.to(g0.dtype)
    lam = torch.linalg.solve(_ok_lhs(gcc, ok), _ok_rhs(g0, okf)).squeeze(-1)[..., :g0.shape[-1]]
    return lam * okf


def shared_ok_weights(g0: torch.Tensor, gcc: torch.Tensor, ok: torch.Tensor, first: torch.Tensor,
                      inv: torch.Tensor) -> torch.Tensor:
    """:func:`ok_weights_from_gamma` (B, M, k) for ``M`` targets whose systems' left sides repeat: targets with the
    same candidates (``first`` (U,): one target of each distinct candidate list, ``inv`` (M,): each target's list,
    :func:`candidate_groups`) share one LU factorisation, and only the right side (``g0`` (M, k)) is per target.
    ``gcc`` (U, k, k): γ between each distinct list's candidates; ``ok`` (B, M, k), the same for every target of a
    list. The same LAPACK steps as one solve per target (getrf, then getrs), a quarter of the factorisations on a
    0.05° BTH map."""
    lu, piv = torch.linalg.lu_factor(_ok_lhs(gcc, ok[:, first]))
    okf = ok.to(g0.dtype)
    lam = torch.linalg.lu_solve(lu[:, inv], piv[:, inv], _ok_rhs(g0, okf)).squeeze(-1)[..., :g0.shape[-1]]
    return lam * okf


def candidate_groups(idx: torch.Tensor, valid: torch.Tensor,
                     cache: GammaCache | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(first (U,), inv (M,)): the distinct rows of targets' candidate lists ``idx``/``valid`` (M, k), one target
    of each, and each target's row. A geometry constant: kept in ``cache`` (slot ``target_groups``) while
    ``idx``/``valid`` are unchanged."""
    if cache is not None:
        return cache.get("target_groups", (idx, valid), (), lambda: candidate_groups(idx, valid))
    key = torch.cat([idx, valid.to(idx.dtype)], -1)
    _, inv = torch.unique(key, dim=0, return_inverse=True)
    first = torch.full((int(inv.max()) + 1 if len(inv) else 0,), len(inv), dtype=torch.long, device=idx.device)
    first = first.scatter_reduce(0, inv, torch.arange(len(inv), device=idx.device), "amin")
    return first, inv


class GammaCache:
    """Variogram values γ of fixed distance tables, kept while the distances and the variogram are unchanged.

    They depend on station and target coordinates only — never on a day's values or on which stations report —
    so every inference call over the same network and grid reuses them. Used without autograd only (a learned
    variogram changes every step); each slot keeps its own copy of the key tensors and compares them exactly.
    """

    def __init__(self) -> None:
        self._slots: dict[str, tuple[tuple[torch.Tensor, ...], tuple[float, ...], object]] = {}

    def get(self, name: str, keys: tuple[torch.Tensor, ...], params: tuple[float, ...], build):
        """``build()`` for the slot ``name``, recomputed only when ``keys`` (tensors) or ``params`` changed."""
        slot = self._slots.get(name)
        if (slot is not None and slot[1] == params and len(slot[0]) == len(keys)
                and all(a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)
                        for a, b in zip(slot[0], keys, strict=True))):
            return slot[2]
        value = build()
        self._slots[name] = (tuple(t.detach().clone() for t in keys), params, value)
        return value


def krige(z: torch.Tensor, ok: torch.Tensor, d0: torch.Tensor, dcc: torch.Tensor, nugget: torch.Tensor,
          range_km: torch.Tensor) -> torch.Tensor:
    """OK estimate ``(…)`` from candidate values ``z`` (…, k); NaN where no candidate is observed.

    Guarded like the numpy OK: an estimate outside the observed candidates' range widened by their spread
    is clipped to that band (kriging weights can be negative; a near-singular system must not explode).
    """
    return guarded_estimate(ok_weights(d0, dcc, ok, nugget, range_km), z, ok)


def guarded_estimate(lam: torch.Tensor, z: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """``Σ lam·z`` (…) clipped to the observed candidates' range ± their spread; NaN without any candidate."""
    okb = ok > 0
    est = torch.nan_to_num((lam * z).sum(-1))
    big = torch.finfo(z.dtype).max
    zmin = torch.where(okb, z, torch.full_like(z, big)).amin(-1)
    zmax = torch.where(okb, z, torch.full_like(z, -big)).amax(-1)
    has = okb.any(-1)
    zmin, zmax = zmin.where(has, torch.zeros_like(zmin)), zmax.where(has, torch.zeros_like(zmax))
    spread = zmax - zmin
    est = torch.maximum(torch.minimum(est, zmax + spread), zmin - spread)
    return torch.where(has, est, torch.full_like(est, float("nan")))


def krige_targets(z_src: torch.Tensor, m_src: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor,
                  d0: torch.Tensor, d_ss: torch.Tensor, nugget: torch.Tensor, range_km: torch.Tensor,
                  dcc: torch.Tensor | None = None,
                  gamma: tuple[torch.Tensor, torch.Tensor] | None = None,
                  cache: GammaCache | None = None) -> torch.Tensor:
    """OK at ``M`` targets with fixed candidate lists ``idx``/``valid``/``d0`` (M, k) from ``N`` sources.

    ``z_src``/``m_src`` (B, L, N) values and observed mask; ``d_ss`` (N, N) source–source km → (B, L, M);
    ``dcc`` (M, k, k) candidate–candidate km if the caller has it cached (else gathered from ``d_ss``);
    ``gamma``: ``(γ(d0) (M, k), γ(dcc) of each distinct candidate list (U, k, k))`` if the caller has them
    (:class:`GammaCache`; the window path only; the lists are :func:`candidate_groups`).
    ``cache``: keeps the window weights while the geometry (``d0``, ``idx``, ``d_ss``), the variogram and the
    set of candidates observed in the window are unchanged (the window path only): most days a network reports
    from the same stations, so a new day's map reuses the solves of the last one. The key is those inputs, not
    the larger derived ``gamma``: comparing (M, k, k) γ values on every call would cost more than it saves.
    Without autograd and with a window of ``DEDUPE_MIN_HOURS`` or more, one system per window and target is
    solved over the candidates observed at any hour of the window, and an hour missing some of them
    renormalises the remaining weights: exact when the observed set is fixed over the window, near-OK
    otherwise; it keeps grid inference ~10× cheaper (spin bench).
    """
    b, n_h, _ = z_src.shape
    m, k = idx.shape
    if (torch.is_grad_enabled() and nugget.requires_grad) or b * n_h < DEDUPE_MIN_HOURS or k > 60:
        if dcc is None:
            dcc = d_ss[idx.unsqueeze(-1), idx.unsqueeze(-2)]  # (M, k, k)
        ok = m_src[..., idx] * valid.to(z_src.dtype)  # (B, L, M, k)
        return krige(z_src[..., idx], ok, d0.expand(b, n_h, m, k), dcc.expand(b, n_h, m, k, k), nugget, range_km)
    # one system per (window, target) over the candidates observed at ANY hour of the window; an hour that
    # misses some of them drops their weights and renormalises the rest. Exact when the observed set is the
    # same all window (hidden stations, a masking scenario); a sporadic gap gets near-OK weights
    ok_any = ((m_src > 0).any(1)[:, idx] & valid).to(z_src.dtype)  # (B, M, k)
    first, inv = candidate_groups(idx, valid, cache)
    if gamma is None:
        dcc = d_ss[idx[first].unsqueeze(-1), idx[first].unsqueeze(-2)] if dcc is None else dcc[first]  # (U, k, k)
        gamma = spherical_unit(d0, nugget, range_km), spherical_unit(dcc, nugget, range_km)
    g0, gcc = gamma

    def solve() -> torch.Tensor:  # (B, M, k); targets with the same candidate list share a factorisation
        return shared_ok_weights(g0, gcc, ok_any, first, inv)

    key = (d0, idx, d_ss, ok_any)
    lam_w = solve() if cache is None else cache.get("window_weights", key, (float(nugget), float(range_km)), solve)
    return _renormalised_estimate(lam_w, z_src * m_src, m_src, idx, valid)


def _renormalised_estimate(lam_w: torch.Tensor, z: torch.Tensor, mask: torch.Tensor, idx: torch.Tensor,
                           valid: torch.Tensor) -> torch.Tensor:
    """``guarded_estimate`` of the hourly renormalised weights ``lam_w · ok(hour) / Σ`` (B, L, M) from sparse sums.

    ``lam_w`` (B, M, k) window weights; ``z`` (B, L, N) values, 0 where unobserved; ``mask`` (B, L, N).
    Every hourly sum is one sparse (M × N) product, so no (B, L, M, k) tensor is built: the weighted sum
    ``Σ lam·ok·z``, its normaliser ``Σ lam·ok``, the negative part ``Σ min(lam, 0)·ok``, and the plain mean
    of the observed candidates (the fallback where the weights cancel). Weights summing to 1 whose negative
    part is ≥ −1 keep the estimate inside the guard band (observed range ± its spread), so the guard is only
    evaluated, by gathering, on the rare (hour, target) cells where it can bind. Same numbers as gathering
    everything, up to float rounding.
    """
    b, n_h, _ = z.shape
    vf = valid.to(z.dtype)
    sums = []
    for w in range(b):
        lw = lam_w[w]
        for weights, values in ((lw, z[w]), (lw, mask[w]), (lw.clamp(max=0.0), mask[w]), (vf, z[w]), (vf, mask[w])):
            sums.append(knn_sum(weights, idx, values))
    num, tot, neg, zsum, cnt = (torch.stack(sums[j::5]) for j in range(5))  # each (B, L, M)
    normal = tot.abs() > 1e-3  # False where the weights cancel or are NaN (a singular system): plain mean
    est = torch.where(normal, num / tot, zsum / cnt.clamp_min(1.0))
    est = torch.where(cnt > 0, est, torch.full_like(est, float("nan")))
    # negative part of the normalised weights: Σ min(lam, 0)/tot, or the positive part / tot when tot < 0
    neg_n = torch.where(tot > 0, neg, tot - neg) / tot
    bind = normal & (cnt > 0) & (neg_n < -0.99)
    if bind.any():
        bi, li, mi = bind.nonzero(as_tuple=True)
        cand = idx[mi]  # (F, k)
        ok = mask[bi.unsqueeze(-1), li.unsqueeze(-1), cand] * vf[mi]
        lam = lam_w[bi, mi] * ok
        lam = lam / lam.sum(-1, keepdim=True)
        est[bi, li, mi] = guarded_estimate(lam, z[bi.unsqueeze(-1), li.unsqueeze(-1), cand], ok)
    return est
