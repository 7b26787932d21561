"""SPIN-style physics-guided inference network (registry name ``spin``).

Pipeline on a window of ``L`` hours over ``N`` station nodes (batch layout: :mod:`core.engine.features`):

1. node input ``[x, mask, init, aux (P), tfeat (4), static (S)]`` → Linear → TCN over hours
   (dilations 1, 2, 4): every node, observed or hidden, gets a temporal encoding. No per-station
   embedding anywhere, so the network runs on station sets it has never seen;
2. initialization head on the encoding → ``init_pred`` (supervised by the init loss);
3. transport direction: measured ``wind`` when the batch has it and ``use_measured_wind``; otherwise a
   head on the encoding infers ``(u, v)`` per node and hour (output label ``wind: inferred``);
4. ``n_layers`` × :class:`~core.nn.blocks.Propagation` over each node's ``graph_k`` nearest stations:
   diffusion (learnable bandwidth, ≤ threshold km)
   and advection (upwind sources only) in parallel, mixed by a learned gate;
5. decoder → correction to the IDW init on the normalised log scale → ``pred`` µg/m³ at every node;
6. bipartite readout to grid cells (``tgt_*`` keys) → ``grid_pred``; during training the same readout
   predicts hidden stations from their observed neighbours (``readout_pred``) so it is trained too.

Output is µg/m³; the decoder works on ``log1p`` minus the per-hour regional mean (heavy tails).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.engine.features import AUX_VARS, N_TIME_FEATURES, STATIC_FEATURES, to_ugm3
from core.engine.neural_kriger import NeuralKriger
from core.engine.trainer import ModelAdapter, register_adapter
from core.graph import DEFAULT_THRESHOLD_KM, advection_kernel_knn, diffusion_kernel, knn_sources, row_normalise
from core.nn.blocks import BipartiteReadout, Propagation, normalise_advection
from core.nn.layers import MLP, TCN
from core.registry import register

ARCH_VERSION = "spin-1"


class SPIN(nn.Module):
    """Physics-guided graph network; ``forward(batch) -> {"pred", "init_pred", ...}`` (µg/m³)."""

    def __init__(self, hidden: int = 32, n_layers: int = 2, tcn_layers: int = 3, readout_dim: int = 8,
                 target_k: int = 8, graph_k: int = 16, bandwidth_km: float = 40.0,
                 threshold_km: float = DEFAULT_THRESHOLD_KM,
                 use_diffusion: bool = True, use_advection: bool = True, use_measured_wind: bool = True,
                 wind_scale: float = 1.0):
        super().__init__()
        n_in = 3 + len(AUX_VARS) + N_TIME_FEATURES + len(STATIC_FEATURES)
        self.use_d, self.use_a, self.use_measured = use_diffusion, use_advection, use_measured_wind
        self.threshold_km, self.target_k, self.graph_k = threshold_km, target_k, graph_k
        self.inp = nn.Linear(n_in, hidden)
        self.tcn = TCN(hidden, tcn_layers)
        self.init_head = nn.Linear(hidden, 1)
        self.wind_head = nn.Linear(hidden, 2)
        self.log_wind_scale = nn.Parameter(torch.tensor(math.log(wind_scale)))
        self.log_bw = nn.Parameter(torch.tensor(math.log(bandwidth_km)))
        self.layers = nn.ModuleList(Propagation(hidden, use_diffusion, use_advection) for _ in range(n_layers))
        self.decoder = MLP(hidden, hidden, 1)
        self.readout = BipartiteReadout(hidden, readout_dim, len(STATIC_FEATURES), N_TIME_FEATURES)

    @property
    def bandwidth_km(self) -> torch.Tensor:
        return self.log_bw.exp()

    def wind(self, h: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, v) each (B, L, N): measured (scaled) if available and enabled, else inferred from ``h``."""
        if self.use_measured and "wind" in batch:
            w = batch["wind"] * self.log_wind_scale.exp()
        else:
            w = self.wind_head(h)
        return w[..., 0], w[..., 1]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, mask, init, center = batch["x"], batch["mask"], batch["init"], batch["center"]
        b, n_h, n = x.shape
        static = batch["static"].expand(b, n_h, n, -1)
        tfeat = batch["tfeat"].unsqueeze(2).expand(b, n_h, n, -1)
        feats = torch.cat([x.unsqueeze(-1), mask.unsqueeze(-1), init.unsqueeze(-1), batch["aux"], tfeat, static], -1)
        h = self.tcn(self.inp(feats))
        out = {"init_pred": to_ugm3(init + self.init_head(h).squeeze(-1), center)}
        dist, bearing = batch["dist"], batch["bearing"]
        idx, valid = self._station_knn(dist, self.graph_k)
        d_k, b_k = torch.gather(dist, 1, idx), torch.gather(bearing, 1, idx)
        kd = row_normalise(diffusion_kernel(d_k, self.bandwidth_km, self.threshold_km) * valid) if self.use_d else None
        u = v = ka = None
        if self.use_a:
            u, v = self.wind(h, batch)
            ka = normalise_advection(advection_kernel_knn(u, v, idx, d_k, b_k, valid))
        gates = []
        for layer in self.layers:
            h, g = layer(h, idx, kd, ka)
            gates.append(g)
        out["pred"] = to_ugm3(init + self.decoder(h).squeeze(-1), center)
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
        if "tgt_idx" in batch:
            corr = self._readout(h, mask, u, v, batch["tgt_idx"], batch["tgt_valid"], batch["tgt_dist"],
                                 batch["tgt_bearing"], batch["tgt_init"], batch["tgt_static"], batch["tfeat"])
            out["grid_pred"] = to_ugm3(batch["tgt_init"] + corr, center)
        if self.training:  # train the readout on hidden stations, predicted from the other stations only
            idx, valid = self._station_knn(dist, self.target_k)
            d_k, b_k = torch.gather(dist, 1, idx), torch.gather(bearing, 1, idx)
            corr = self._readout(h, mask, u, v, idx, valid, d_k, b_k, init, batch["static"], batch["tfeat"])
            out["readout_pred"] = to_ugm3(init + corr, center)
        return out

    def _readout(self, h, mask, u, v, idx, valid, dist, bearing, init, static, tfeat) -> torch.Tensor:
        return self.readout(h, mask, u, v, idx, valid, dist, bearing, self.bandwidth_km, init, static, tfeat,
                            self.use_d, self.use_a)

    def _station_knn(self, dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """k nearest other stations within the threshold: idx (N, k), valid (N, k)."""
        idx, valid = knn_sources(dist.detach().cpu().numpy(), k, self.threshold_km, exclude_self=True)
        return torch.from_numpy(idx).to(dist.device), torch.from_numpy(valid).to(dist.device)


DEFAULTS = {
    "hidden": 32, "n_layers": 2, "tcn_layers": 3, "readout_dim": 8, "target_k": 8, "graph_k": 16, "bandwidth_km": 40.0,
    "threshold_km": DEFAULT_THRESHOLD_KM, "use_diffusion": True, "use_advection": True,
    "use_measured_wind": True, "wind_scale": 1.0,
}

ADAPTER = register_adapter(ModelAdapter(
    name="spin", arch_version=ARCH_VERSION, build=lambda hp: SPIN(**hp), defaults=DEFAULTS,
    wind="inferred", uses_measured_wind=True,
))


@register("spin")
def _factory(**kwargs) -> NeuralKriger:
    """The shipped ``spin`` checkpoint as a Kriger (``device=``, ``root=`` optional)."""
    return NeuralKriger.from_checkpoint(ADAPTER, **kwargs)
