"""SPIN-style physics-guided inference network (registry name ``spin``), architecture ``spin-2``.

Pipeline on a window of ``L`` hours (48 by default) over ``N`` station nodes (batch layout:
:mod:`core.nn.features`):

1. initial estimate from OBSERVED nodes only: local ordinary kriging on the normalised log scale
   (:mod:`core.nn.kriging`) over each node's ``ok_k`` nearest observed candidates (trained with 10; the
   shipped card's ``inference`` block sets the value chosen on validation days, ``tune --model spin``), with one global
   spherical variogram (nugget fraction + range) fitted on training days by the spec's ``fit`` (learnable with
   ``learn_variogram``; off by default: fixed, every distinct kriging system is solved once per batch,
   ~20× cheaper, since a node's system only changes when its candidates' observed pattern does) — or, with the
   ``variogram: window`` inference setting, refitted by the engine on each call's window from the stations observed
   in it and carried in the batch (``ok_nugget``/``ok_range_km``: another network's spatial scale), or with
   ``variogram: auto`` refitted only where the observed network is narrower than the trained range
   (:func:`narrower_than_range`); IDW
   (the batch's ``init``) where no candidate is observed. Grid cells
   (``tgt_*``) get the same kriging from their candidate sources. ``init_mode="idw"`` is the spin-1 init;
2. node input ``[x, mask, init, aux (P), tfeat (4), static (S), elevation, elevation − neighbours']`` and with
   ``loo_inputs`` also ``[log-OK from the other observed stations, nearest observed km / 100]`` (at an observed node
   its leave-one-out kriging: where the init misses, read from observed values only) →
   Linear → TCN over hours (dilations 1 … 2^(tcn_layers−1): 1–16 with 5 layers, receptive field 63 h).
   No per-station embedding anywhere, so the network runs on station sets it has never seen;
3. initialization head on the encoding → ``init_pred`` (supervised by the init loss);
4. transport direction: measured ``wind`` when the batch has it and ``use_measured_wind``; otherwise a
   head on the encoding infers ``(u, v)`` per node and hour (output label ``wind: inferred``);
5. ``n_layers`` × :class:`~core.nn.blocks.Propagation` over each node's ``graph_k`` nearest stations:
   diffusion (learnable bandwidth, ≤ threshold km, × ``exp(−|Δz| / terrain_km)`` with terrain) and
   advection (upwind sources only) in parallel, mixed by a learned gate. With ``mp_observed_only`` every
   source weight is multiplied by the source's observed mask for that hour and rows are renormalised,
   so hidden nodes send no message (their encodings carry nothing but the init);
6. decoder → correction to the init on the normalised log scale → ``pred`` µg/m³ at every node. At
   inference the correction is multiplied by ``corr_scale`` (1 = as trained, 0 = the init alone; an
   inference setting chosen on validation days like ``ok_k``) — the same shrinkage on the grid readout;
   the engine reads a window in near-equal chunks of at most ``chunk_hours`` (another inference setting; the
   encoder runs on any length, and a chunk's edge hours see one side only);
7. bipartite readout to grid cells (``tgt_*`` keys) → ``grid_pred``; during training the same readout
   predicts hidden stations from their observed neighbours (``readout_pred``) so it is trained too.

Output is µg/m³; the decoder works on ``log1p`` minus the per-hour regional mean (heavy tails).

A checkpoint with ``members`` > 1 (``python -m core ensemble``: runs of one recipe, one per seed) is served by
:class:`~core.nn.ensemble.CorrectionEnsemble`: the init of step 1 once, plus the mean of the members' corrections.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from core.contracts.model_spec import ModelSpec
from core.contracts.registry import register_spec
from core.data.terrain import CITATION as TERRAIN_CITATION
from core.geo import EARTH_RADIUS_KM, haversine_km
from core.graph import DEFAULT_THRESHOLD_KM, advection_kernel_knn, diffusion_kernel, knn_sources, row_normalise
from core.nn.blocks import BipartiteReadout, Propagation, normalise_advection
from core.nn.ensemble import CorrectionEnsemble
from core.nn.features import AUX_VARS, N_TIME_FEATURES, STATIC_FEATURES, NodeData, to_ugm3
from core.nn.kriging import (
    GammaCache,
    candidate_groups,
    guarded_estimate,
    krige_targets,
    ok_weights_from_gamma,
    spherical_unit,
)
from core.nn.layers import MLP, TCN

ARCH_VERSION = "spin-2"
N_TERRAIN = 2  # elevation km, elevation minus the mean of the node's graph neighbours km
N_LOO = 2  # log-OK from the other observed stations (normalised log), nearest observed candidate (100 km)


class SPIN(nn.Module):
    """Physics-guided graph network; ``forward(batch) -> {"pred", "init_pred", ...}`` (µg/m³)."""

    def __init__(self, hidden: int = 32, n_layers: int = 2, tcn_layers: int = 5, readout_dim: int = 8,
                 target_k: int = 8, graph_k: int = 16, bandwidth_km: float = 40.0,
                 threshold_km: float = DEFAULT_THRESHOLD_KM,
                 use_diffusion: bool = True, use_advection: bool = True, use_measured_wind: bool = True,
                 wind_scale: float = 1.0, init_mode: str = "logok", ok_k: int = 10, ok_candidates: int = 32,
                 ok_nugget: float = 0.2, ok_range_km: float = 150.0, learn_variogram: bool = False,
                 mp_observed_only: bool = True, use_terrain: bool = True, terrain_km: float = 0.3,
                 corr_scale: float = 1.0, loo_inputs: bool = False):
        super().__init__()
        if init_mode not in ("logok", "idw"):
            raise ValueError(f"init_mode must be 'logok' or 'idw', not {init_mode!r}")
        if not 1 <= int(ok_k) <= int(ok_candidates):
            raise ValueError(f"ok_k must be between 1 and ok_candidates ({ok_candidates}), not {ok_k}")
        if not 0.0 <= float(corr_scale) <= 1.0:
            raise ValueError(f"corr_scale must be between 0 (the kriging init alone) and 1 (as trained), "
                             f"not {corr_scale}")
        if loo_inputs and init_mode != "logok":
            raise ValueError("loo_inputs reads the log-OK estimate at every node: it needs init_mode 'logok'")
        n_static = len(STATIC_FEATURES) + (N_TERRAIN if use_terrain else 0)
        n_in = 3 + len(AUX_VARS) + N_TIME_FEATURES + n_static + (N_LOO if loo_inputs else 0)
        self.use_d, self.use_a, self.use_measured = use_diffusion, use_advection, use_measured_wind
        self.threshold_km, self.target_k, self.graph_k = threshold_km, target_k, graph_k
        self.init_mode, self.ok_k, self.ok_candidates = init_mode, ok_k, ok_candidates
        self.mp_observed_only, self.use_terrain, self.loo_inputs = mp_observed_only, use_terrain, bool(loo_inputs)
        # inference only (1 in training): shrinks the learned correction toward the init, chosen on validation
        self.corr_scale = float(corr_scale)
        nug = min(max(ok_nugget, 0.01), 0.95)
        self.ok_logit_nugget = nn.Parameter(torch.tensor(math.log(nug / (1 - nug))), requires_grad=learn_variogram)
        self.ok_log_range = nn.Parameter(torch.tensor(math.log(ok_range_km)), requires_grad=learn_variogram)
        self.log_terrain_km = nn.Parameter(torch.tensor(math.log(terrain_km)), requires_grad=use_terrain)
        self.inp = nn.Linear(n_in, hidden)
        self.tcn = TCN(hidden, tcn_layers)
        self.init_head = nn.Linear(hidden, 1)
        self.wind_head = nn.Linear(hidden, 2)
        self.log_wind_scale = nn.Parameter(torch.tensor(math.log(wind_scale)))
        self.log_bw = nn.Parameter(torch.tensor(math.log(bandwidth_km)))
        self.layers = nn.ModuleList(Propagation(hidden, use_diffusion, use_advection) for _ in range(n_layers))
        self.decoder = MLP(hidden, hidden, 1)
        self.readout = BipartiteReadout(hidden, readout_dim, n_static, N_TIME_FEATURES)
        self._gamma = GammaCache()  # inference: γ tables and neighbour lists of the last network and target set

    @property
    def bandwidth_km(self) -> torch.Tensor:
        return self.log_bw.exp()

    @property
    def variogram(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(nugget fraction, range km) of the kriging init, as fitted on training days (or learned)."""
        return torch.sigmoid(self.ok_logit_nugget).clamp(0.01, 0.95), self.ok_log_range.exp().clamp(5.0, 2000.0)

    def variogram_of(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's variogram when it carries one (``ok_nugget``, ``ok_range_km`` scalars: refitted at inference
        on the stations observed in the window, the ``variogram: window`` setting, or ``auto`` on a narrow network),
        else :attr:`variogram`."""
        if "ok_nugget" in batch and "ok_range_km" in batch and not torch.is_grad_enabled():
            return batch["ok_nugget"].clamp(0.01, 0.95), batch["ok_range_km"].clamp(5.0, 2000.0)
        return self.variogram

    def wind(self, h: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, v) each (B, L, N): measured (scaled) if available and enabled, else inferred from ``h``."""
        if self.use_measured and "wind" in batch:
            w = batch["wind"] * self.log_wind_scale.exp()
        else:
            w = self.wind_head(h)
        return w[..., 0], w[..., 1]

    def node_init(self, batch: dict[str, torch.Tensor], estimate: torch.Tensor | None = None) -> torch.Tensor:
        """Initial estimate (B, L, N), normalised log: own value where observed, else :meth:`node_estimate`
        (``estimate`` when the caller has it already)."""
        if self.init_mode == "idw":
            return batch["init"]
        est = self.node_estimate(batch)[0] if estimate is None else estimate
        return torch.where(batch["mask"] > 0, batch["x"] * batch["mask"], est)

    def node_estimate(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-OK of every node from the OTHER observed stations: (estimate (B, L, N) normalised log, IDW where no
        candidate is observed; distance to the nearest observed candidate (B, L, N) km, ``threshold_km`` if none).

        At an observed node the estimate is its leave-one-out kriging (the node itself is never its own candidate),
        which is what ``loo_inputs`` feeds the encoder: how far kriging misses there, from observed values only.
        """
        x, mask = batch["x"] * batch["mask"], batch["mask"]
        dist = batch["dist"]
        cand, cvalid = self._station_knn(dist, self.ok_candidates)  # (N, K) sorted by distance
        b, n_h, n = x.shape
        d_c = torch.gather(dist, 1, cand)  # (N, K)
        ok_c = (mask[..., cand] * cvalid.to(x.dtype)) > 0  # (B, L, N, K)
        k = min(self.ok_k, cand.shape[1])
        nug, rng = self.variogram_of(batch)
        rows = ok_c.reshape(-1, cand.shape[1])
        node = torch.arange(n, device=x.device).repeat(b * n_h)
        if torch.is_grad_enabled() and nug.requires_grad:
            uniq_node, uniq_ok, inv = node, rows, None
        else:  # the system depends only on (node, which candidates are observed): solve each distinct one once
            bits = (rows.long() << torch.arange(rows.shape[1], device=x.device)).sum(-1)
            key, inv = torch.unique(bits * n + node, return_inverse=True)
            first = torch.full((len(key),), len(node), device=x.device).scatter_reduce(
                0, inv, torch.arange(len(node), device=x.device), "amin")
            uniq_node, uniq_ok = node[first], rows[first]
        # the k nearest OBSERVED candidates of each system (unobserved ones sort last)
        d_u = d_c[uniq_node]
        key_d = torch.where(uniq_ok, d_u, torch.full_like(d_u, float("inf")))
        key_sel, sel = torch.topk(key_d, k, dim=-1, largest=False)
        src = torch.gather(cand[uniq_node], -1, sel)  # (U, k) node indices
        ok = torch.isfinite(key_sel).to(x.dtype)
        near = torch.where(torch.isfinite(key_sel[:, 0]), key_sel[:, 0],
                           torch.full_like(key_sel[:, 0], float(self.threshold_km)))
        # γ(d0) is read from the network's γ table at (node, source): key_sel holds those very distances
        g_ss = self._station_gamma(dist, nug, rng)
        lam = ok_weights_from_gamma(g_ss[uniq_node.unsqueeze(-1), src], g_ss[src.unsqueeze(-1), src.unsqueeze(-2)], ok)
        if inv is not None:
            lam, src, ok, near = lam[inv], src[inv], ok[inv], near[inv]
        lam, src, ok = (t.view(b, n_h, n, k) for t in (lam, src, ok))
        z = torch.gather(x.unsqueeze(2).expand(b, n_h, n, n), -1, src)
        est = guarded_estimate(lam, z, ok)
        return torch.where(torch.isnan(est), batch["init"], est), near.view(b, n_h, n)

    def target_init(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Initial estimate at receive-only targets (B, L, M): log-OK from their candidates, else IDW."""
        if self.init_mode == "idw":
            return batch["tgt_init"]
        idx, d0, dist = batch["tgt_idx"], batch["tgt_dist"], batch["dist"]
        nug, rng = self.variogram_of(batch)
        gamma = None
        if not torch.is_grad_enabled():  # a map's (cell, candidate, candidate) γ: once per network, grid, variogram
            first = candidate_groups(idx, batch["tgt_valid"], self._gamma)[0]  # one cell per distinct candidate list
            gamma = self._gamma.get("targets", (dist, idx, d0, batch["tgt_valid"]), (float(nug), float(rng)), lambda: (
                spherical_unit(d0, nug, rng),
                self._station_gamma(dist, nug, rng)[idx[first].unsqueeze(-1), idx[first].unsqueeze(-2)]))
        est = krige_targets(batch["x"] * batch["mask"], batch["mask"], idx, batch["tgt_valid"], d0, dist, nug, rng,
                            gamma=gamma, cache=self._gamma if gamma is not None else None)
        return torch.where(torch.isnan(est), batch["tgt_init"], est)

    def _station_gamma(self, dist: torch.Tensor, nug: torch.Tensor, rng: torch.Tensor) -> torch.Tensor:
        """γ (N, N) of the variogram (``nug``, ``rng``) between stations; without autograd kept per network and
        variogram (the distances depend on coordinates only), with autograd recomputed (a learned variogram moves)."""
        if torch.is_grad_enabled():
            return spherical_unit(dist, nug, rng)
        return self._gamma.get("stations", (dist,), (float(nug), float(rng)), lambda: spherical_unit(dist, nug, rng))

    def _terrain(self, elev: torch.Tensor | None, n: int, idx: torch.Tensor, valid: torch.Tensor,
                 src_elev: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Terrain features (n, 2) km and the kernel factor ``exp(−|Δz| / terrain_km)`` (n, k) (None: off)."""
        if not self.use_terrain:
            return torch.zeros(n, 0, device=idx.device), None
        if elev is None:  # batch built without terrain (should not happen with prepare): flat ground
            elev = torch.zeros(n, device=idx.device)
        src_elev = elev if src_elev is None else src_elev
        zs, vf = src_elev[idx], valid.to(elev.dtype)
        mean_nb = (zs * vf).sum(-1) / vf.sum(-1).clamp_min(1.0)
        feats = torch.stack([elev, elev - mean_nb], -1)
        return feats, torch.exp(-(elev.unsqueeze(-1) - zs).abs() / self.log_terrain_km.exp())

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out, state = self.encode(batch)
        if "tgt_idx" in batch:
            out["grid_pred"] = self.read_targets(batch, state)
        if self.training:  # train the readout on hidden stations, predicted from the other stations only
            h, mask, u, v, init, center = (state[k] for k in ("h", "mask", "u", "v", "init", "center"))
            dist, bearing = batch["dist"], batch["bearing"]
            idx, valid = self._station_knn(dist, self.target_k)
            d_k, b_k = torch.gather(dist, 1, idx), torch.gather(bearing, 1, idx)
            terr, tk = self._terrain(batch.get("elev"), dist.shape[0], idx, valid)
            corr = self._readout(h, mask, u, v, idx, valid, d_k, b_k, init,
                                 torch.cat([batch["static"], terr], -1), batch["tfeat"], tk)
            out["readout_pred"] = to_ugm3(init + corr, center)
        return out

    def encode(self, batch: dict[str, torch.Tensor], init: torch.Tensor | None = None,
               estimate: tuple[torch.Tensor, torch.Tensor] | None = None
               ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The station side (steps 1–6): outputs at the nodes and the state the grid readout reads.

        Only station keys of ``batch`` are read, so one encoding serves every set of targets (the tiles of a
        reanalysis block) through :meth:`read_targets`; state: ``h`` (B, L, N, hidden), ``mask``, ``init``,
        ``center``, ``u``/``v`` (B, L, N) or None, ``corr`` (B, L, N) the served correction (normalised log).
        ``init``: the node init (:meth:`node_init`) and ``estimate`` (:meth:`node_estimate`) when the caller has
        them already (an ensemble's members share one kriging init).
        """
        mask, center = batch["mask"], batch["center"]
        x = batch["x"] * mask
        b, n_h, n = x.shape
        if self.loo_inputs and estimate is None:  # the constructor ties loo_inputs to the kriging init
            estimate = self.node_estimate(batch)
        if init is None:
            init = self.node_init(batch, None if estimate is None else estimate[0])
        dist, bearing = batch["dist"], batch["bearing"]
        idx, valid = self._station_knn(dist, self.graph_k)
        d_k, b_k = torch.gather(dist, 1, idx), torch.gather(bearing, 1, idx)
        terr, tk = self._terrain(batch.get("elev"), n, idx, valid)
        static = torch.cat([batch["static"], terr], -1)
        parts = [x.unsqueeze(-1), mask.unsqueeze(-1), init.unsqueeze(-1), batch["aux"],
                 batch["tfeat"].unsqueeze(2).expand(b, n_h, n, -1), static.expand(b, n_h, n, -1)]
        if self.loo_inputs:  # where kriging misses at observed nodes, and how far the nearest observed one is
            parts += [estimate[0].unsqueeze(-1), (estimate[1] / 100.0).unsqueeze(-1)]
        h = self.tcn(self.inp(torch.cat(parts, -1)))
        out = {"init_pred": to_ugm3(init + self.init_head(h).squeeze(-1), center)}
        # hidden sources carry no weight: their encodings hold only the init (observed-only message passing)
        src_obs = mask[..., idx] if self.mp_observed_only else None  # (B, L, N, k)
        kd = None
        if self.use_d:
            kd = diffusion_kernel(d_k, self.bandwidth_km, self.threshold_km) * valid
            if tk is not None:
                kd = kd * tk
            kd = row_normalise(kd * src_obs if src_obs is not None else kd)
        u = v = ka = None
        if self.use_a:
            u, v = self.wind(h, batch)
            ka = advection_kernel_knn(u, v, idx, d_k, b_k, valid)
            ka = normalise_advection(ka * src_obs if src_obs is not None else ka)
        gates = []
        shared: dict = {}  # every layer applies the same kd and ka: in training their dense form is built once
        for layer in self.layers:
            h, g = layer(h, idx, kd, ka, dense_cache=shared)
            gates.append(g)
        corr = self._scale(self.decoder(h).squeeze(-1))
        out["pred"] = to_ugm3(init + corr, center)
        if self.use_a:
            out["wind_u"], out["wind_v"] = u, v
        # spatial influence of the first layer, gate-weighted, averaged over windows and hours (N, N)
        if not self.training:
            g0 = gates[0]
            for key, w in (("influence_diffusion", g0 * kd if kd is not None else None),
                           ("influence_advection", (1 - g0) * ka if ka is not None else None)):
                dense = torch.zeros_like(dist)
                if w is not None:
                    dense.scatter_add_(1, idx, w.mean((0, 1)) if w.dim() == 4 else w)
                out[key] = dense
        return out, {"h": h, "mask": mask, "u": u, "v": v, "init": init, "center": center, "corr": corr}

    def read_targets(self, batch: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> torch.Tensor:
        """Step 7: ``grid_pred`` (B, L, M) µg/m³ at the ``tgt_*`` targets from an :meth:`encode` state."""
        t_init = self.target_init(batch)
        return to_ugm3(t_init + self.target_correction(batch, state, t_init), state["center"])

    def target_correction(self, batch: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                          t_init: torch.Tensor) -> torch.Tensor:
        """The served correction (B, L, M), normalised log, at the ``tgt_*`` targets whose init is ``t_init``."""
        t_idx, t_valid = batch["tgt_idx"], batch["tgt_valid"]
        t_terr, t_tk = self._terrain(batch.get("tgt_elev"), t_idx.shape[0], t_idx, t_valid,
                                     src_elev=batch.get("elev"))
        corr = self._readout(state["h"], state["mask"], state["u"], state["v"], t_idx, t_valid, batch["tgt_dist"],
                             batch["tgt_bearing"], t_init, torch.cat([batch["tgt_static"], t_terr], -1),
                             batch["tfeat"], t_tk)
        return self._scale(corr)

    def _scale(self, corr: torch.Tensor) -> torch.Tensor:
        """The correction (normalised log) as served: × ``corr_scale`` outside training, as trained inside."""
        return corr if self.training or self.corr_scale == 1.0 else corr * self.corr_scale

    def _readout(self, h, mask, u, v, idx, valid, dist, bearing, init, static, tfeat, src_weight=None) -> torch.Tensor:
        return self.readout(h, mask, u, v, idx, valid, dist, bearing, self.bandwidth_km, init, static, tfeat,
                            self.use_d, self.use_a, src_weight=src_weight)

    def _station_knn(self, dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """k nearest other stations within the threshold: idx (N, k), valid (N, k). Geometry only: without
        autograd kept per network (the init's candidates and the message-passing graph, every call)."""
        def build() -> tuple[torch.Tensor, torch.Tensor]:
            idx, valid = knn_sources(dist.detach().cpu().numpy(), k, self.threshold_km, exclude_self=True)
            return torch.from_numpy(idx).to(dist.device), torch.from_numpy(valid).to(dist.device)

        if torch.is_grad_enabled():
            return build()
        return self._gamma.get(f"knn{k}", (dist,), (float(k), float(self.threshold_km)), build)


def served_at(init_only: np.ndarray, as_trained: np.ndarray, corr_scale: float) -> np.ndarray:
    """µg/m³ that SPIN serves at ``corr_scale`` from what it serves at 0 (the init alone) and at 1 (as trained).

    The correction is added on a normalised log1p scale (an affine map of log1p(µg/m³), :func:`to_ugm3`), so
    log1p of the served value moves linearly in ``corr_scale``: exact wherever ``to_ugm3``'s clamps (0 and
    e⁸ − 1 µg/m³) do not bind. Lets ``tune`` score a whole ``corr_scale`` grid from two forward passes.
    """
    s = float(corr_scale)
    return np.expm1((1.0 - s) * np.log1p(init_only) + s * np.log1p(as_trained))


def fit_variogram(hp: dict, nodes: NodeData, hours: np.ndarray, max_hours: int = 400, seed: int = 0) -> dict:
    """Fit the global kriging variogram (nugget fraction, range km) on training hours, normalised log scale.

    ``hours`` bool (T,) — hours the fit may read (training days only). Pools the binned semivariance of
    up to ``max_hours`` sampled hours and fits one spherical model (:func:`core.baselines.ok.fit_spherical`).
    Returns ``hp`` with ``ok_nugget`` / ``ok_range_km`` set (unchanged when ``init_mode`` is not ``logok``).
    """
    from core.baselines.ok import empirical_variogram, fit_spherical

    if hp.get("init_mode", "logok") != "logok" or not hp.get("fit_variogram", True):
        return hp
    pick = np.flatnonzero(np.asarray(hours, bool) & (np.isfinite(nodes.pm25).sum(1) >= 5))
    if not len(pick):
        return hp
    pick = np.sort(np.random.default_rng(seed).choice(pick, min(max_hours, len(pick)), replace=False))
    logv = np.log1p(np.clip(nodes.pm25[pick].astype("float64"), 0, None))
    logv = logv - np.nanmean(logv, axis=1, keepdims=True)
    centres, gamma, counts = empirical_variogram(logv, nodes.lat, nodes.lon)
    pooled = (gamma * counts).sum(0, keepdims=True) / np.maximum(counts.sum(0, keepdims=True), 1)
    nug, psill, rng = fit_spherical(centres, pooled, counts.sum(0, keepdims=True))
    frac = float(nug[0] / (nug[0] + psill[0]))
    return {**hp, "ok_nugget": round(min(max(frac, 0.01), 0.95), 4), "ok_range_km": round(float(rng[0]), 1)}


def narrower_than_range(hp: dict, lat: np.ndarray, lon: np.ndarray) -> bool:
    """Whether a network of stations at ``lat``/``lon`` (S,) degrees spans less than the trained variogram's
    range (``hp["ok_range_km"]``): its widest station pair is shorter. The ``variogram: auto`` gate.

    Why: such a network (UCI Beijing's 63 km, AQI-36's 128 km against BTH's 197-km range) is another, smaller
    one whose own pairs never reach the sill the training days fixed, and its window's fit describes the lags its
    kriging uses; a network as wide as the training region keeps the training-day fit, which pools hundreds of
    hours and does not swing from window to window as a 48-h fit does. Fewer than two stations: False.
    """
    if len(lat) < 2:
        return False
    reach = float(hp["ok_range_km"])
    if np.radians(np.ptp(lat)) * EARTH_RADIUS_KM >= reach:  # the N-S extent bounds the widest pair from below
        return False
    return bool(haversine_km(lat, lon, lat, lon).max() < reach)


def build(hp: dict) -> nn.Module:
    """The module a checkpoint's hyper-parameters describe: one :class:`SPIN`, or with ``members`` > 1 (a card
    written by ``python -m core ensemble``) a :class:`~core.nn.ensemble.CorrectionEnsemble` of that many SPINs of
    the same hyper-parameters, whose weights the checkpoint holds under ``members.<i>.``."""
    hp = dict(hp)
    n = int(hp.pop("members", 1))
    return SPIN(**hp) if n == 1 else CorrectionEnsemble([SPIN(**hp) for _ in range(n)])


DEFAULTS = {
    "hidden": 32, "n_layers": 2, "tcn_layers": 5, "readout_dim": 8, "target_k": 8, "graph_k": 16, "bandwidth_km": 40.0,
    "threshold_km": DEFAULT_THRESHOLD_KM, "use_diffusion": True, "use_advection": True,
    "use_measured_wind": True, "wind_scale": 1.0, "init_mode": "logok", "ok_k": 10, "ok_candidates": 32,
    "ok_nugget": 0.2, "ok_range_km": 150.0, "learn_variogram": False, "mp_observed_only": True,
    "use_terrain": True, "terrain_km": 0.3, "corr_scale": 1.0, "loo_inputs": False, "window": 48, "predict": 48,
}

SPEC = register_spec(ModelSpec(
    name="spin", arch_version=ARCH_VERSION, build=build, defaults=DEFAULTS,
    wind="inferred", uses_measured_wind=True, fit=fit_variogram, fitted_hparams=("ok_nugget", "ok_range_km"),
    refit_gate=narrower_than_range,
    inference_hparams=("ok_k", "corr_scale", "chunk_hours", "variogram"),
    explains=("influence",),  # message-passing shares (encode)
    ensembles=True,
    notes={"terrain": TERRAIN_CITATION,
           "init": "local ordinary kriging of observed stations on log1p(PM2.5) minus the hourly mean, global "
                   "spherical variogram fitted on training days (hparams ok_nugget, ok_range_km); IDW fallback"},
))

