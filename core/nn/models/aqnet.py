"""AQ-Net-style kriging model (registry name ``aqnet``): temporal attention + neural kNN.

Input: the engine batch (:mod:`core.nn.features`) over a window of ``L = (hist_days + 1) · 24``
hours; the last 24 hours are the *prediction day*, the 14 days before it the history.

1. **History encoder** — per station, each history day is summarised (observed fraction, mean,
   std, min, max of standardised ``log1p`` PM2.5) and tagged with its cyclic calendar (weekday and
   day-of-year sin/cos); an LSTM runs over the days; a query built from the last LSTM state, the
   prediction day's calendar and its own summary attends over the day states (multi-head
   attention). The head-averaged weights are the **prediction day × history day** attention
   (each row sums to 1); a hidden station gets the kNN-weighted mix of its sources' rows.
2. **Hourly source embedding** — attention context + the hour's value relative to the regional
   mean of observed stations (batch ``x``) + observed flag + cyclic hour → ``e_j(t)``.
3. **Neural kNN** — every target (station or grid cell) takes its k nearest *observed* stations;
   the score ``-p·log(1 + d/10 km) + MLP(distance, bearing, displacement, rank, population proxies
   at source and target, e_j(t))`` is
   softmax-normalised over neighbours with a value at hour t (starts as inverse-distance
   weighting, which the network corrects). Prediction (normalised log scale) =
   ``Σ w·x_j + residual(Σ w·e_j, nearest distance, target proxies)``; + regional mean → µg/m³.

Only geometry and observed values enter — no per-station embedding — so it runs on station
sets and grids it has never seen. Hours before the prediction day are returned as the batch's
IDW ``init`` (never scored: the engine scores the last ``predict`` hours).
"""

from __future__ import annotations

import torch
from torch import nn

from core.contracts.model_spec import ModelSpec
from core.contracts.registry import register_spec
from core.nn.features import STATIC_FEATURES, to_ugm3

ARCH_VERSION = "aqnet-2"
DAY = 24
HIST_DAYS = 14
LOG_REF = 3.5  # log1p(~32 µg/m³): standardises absolute log values for the day summaries
N_SUMMARY = 5  # observed fraction, mean, std, min, max
N_CALENDAR = 4  # weekday sin/cos, day-of-year sin/cos
DAY_FEATURES = N_SUMMARY + N_CALENDAR
GEOM_FEATURES = 7  # log-distance, bearing sin/cos, displacement east/north, rank / k, 10 / (d + 10)
N_STATIC = len(STATIC_FEATURES)  # emission proxies (population) at a place, from the engine batch
REL_FEATURES = GEOM_FEATURES + 2 * N_STATIC  # + source's and target's emission proxies


def daily_summaries(z: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """``z`` (B, D, 24, N) standardised values, ``ok`` bool same shape → (B, D, N, 5).

    Features: observed fraction, mean, std, min, max over the day's observed hours (0 without any).
    """
    n = ok.sum(2)
    z0 = torch.where(ok, z, torch.zeros_like(z))
    mean = z0.sum(2) / n.clamp_min(1)
    var = (torch.where(ok, z - mean.unsqueeze(2), torch.zeros_like(z)) ** 2).sum(2) / n.clamp_min(1)
    big = torch.finfo(z.dtype).max
    zmin = torch.where(ok, z, torch.full_like(z, big)).amin(2)
    zmax = torch.where(ok, z, torch.full_like(z, -big)).amax(2)
    has = n > 0
    zmin, zmax = torch.where(has, zmin, torch.zeros_like(zmin)), torch.where(has, zmax, torch.zeros_like(zmax))
    return torch.stack([n.to(z.dtype) / z.shape[2], mean, var.sqrt(), zmin, zmax], -1)


def pair_features(dist_km: torch.Tensor, bearing: torch.Tensor) -> torch.Tensor:
    """Geometry of (target, k-th source) pairs, ``(…, k)`` each → ``(…, k, 7)``.

    ``bearing``: radians source→target (the :mod:`core.graph` convention). Pairs with infinite
    distance (padding) give non-finite rows; :class:`AQNet` masks them.
    """
    k = dist_km.shape[-1]
    rank = torch.arange(k, dtype=dist_km.dtype, device=dist_km.device).expand_as(dist_km) / k
    return torch.stack([
        torch.log1p(dist_km / 10.0), torch.sin(bearing), torch.cos(bearing),
        dist_km * torch.sin(bearing) / 100.0, dist_km * torch.cos(bearing) / 100.0,
        rank, 10.0 / (dist_km + 10.0),
    ], -1)


def nearest_sources(dist_km: torch.Tensor, source: torch.Tensor, k: int,
                    exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and distances of each target's k nearest source stations.

    ``dist_km`` (M, N) target × station; ``source`` (B, N) bool (may serve as a source);
    ``exclude`` (M, N) bool pairs never allowed (a station is not its own neighbour).
    Returns ``idx`` (B, M, k) and ``dist`` (B, M, k); with fewer than k sources the extra slots
    carry distance ``inf`` (weight 0).
    """
    d = dist_km.unsqueeze(0).expand(source.shape[0], -1, -1)
    bad = ~source.unsqueeze(1)
    if exclude is not None:
        bad = bad | exclude.unsqueeze(0)
    d = d.masked_fill(bad, float("inf"))
    kk = min(k, d.shape[-1])
    dist, idx = torch.topk(d, kk, dim=-1, largest=False)
    if kk < k:
        pad = k - kk
        idx = torch.cat([idx, idx[..., -1:].expand(*idx.shape[:-1], pad)], -1)
        dist = torch.cat([dist, torch.full_like(dist[..., :1], float("inf")).expand(*dist.shape[:-1], pad)], -1)
    return idx, dist


class HistoryAttention(nn.Module):
    """LSTM over daily summaries + multi-head attention of the prediction day over history days.

    ``hist`` (B, H, DAY_FEATURES), ``query`` (B, DAY_FEATURES) → context (B, d), attention (B, H).
    """

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(DAY_FEATURES, d, batch_first=True)
        self.q = nn.Linear(d + DAY_FEATURES, d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)

    def forward(self, hist: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states, _ = self.lstm(hist)
        q = self.q(torch.cat([states[:, -1], query], -1)).unsqueeze(1)
        ctx, w = self.attn(q, states, states, need_weights=True, average_attn_weights=True)
        return ctx.squeeze(1), w.squeeze(1)


class NeuralKNN(nn.Module):
    """Learned interpolation weights over each target's k nearest observed stations.

    ``rel`` (B, M, k, REL_FEATURES) pair geometry, ``emb`` (B, T, M, k, hidden) the sources' hourly
    embeddings already projected by :attr:`emb` (projection before gathering saves k× work),
    ``valid`` (B, T, M, k) → weights (B, T, M, k): softmax over valid neighbours (0 where none is valid).
    """

    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.power = nn.Parameter(torch.tensor(2.0))  # IDW-like prior on log-distance
        self.rel = nn.Linear(REL_FEATURES, hidden)
        self.emb = nn.Linear(d, hidden)
        self.out = nn.Sequential(nn.GELU(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, rel: torch.Tensor, emb: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        prior = -self.power * rel[..., 0]  # rel[..., 0] = log1p(distance / 10 km)
        score = self.out(self.rel(rel).unsqueeze(1) + emb).squeeze(-1) + prior.unsqueeze(1)
        score = score.masked_fill(~valid, -1e9)
        return torch.softmax(score, -1) * valid.any(-1, keepdim=True)


class AQNet(nn.Module):
    """AQ-Net-style model; ``forward(batch) -> dict`` (see the module docstring).

    Outputs: ``pred`` (B, L, N) µg/m³ [+ ``grid_pred`` (B, L, M) with ``tgt_*`` keys];
    ``attention`` (B, N, H) prediction day × history day (rows sum to 1, oldest day first);
    ``knn_idx`` (B, N, k) source node of each station's neighbour slots and ``knn_weights``
    (B, 24, N, k) their weights per hour of the prediction day.
    """

    def __init__(self, d: int = 32, heads: int = 4, knn_hidden: int = 32, k: int = 8,
                 hist_days: int = HIST_DAYS, target_k: int = 12) -> None:
        super().__init__()
        self.k, self.hist_days = k, hist_days
        self.history = HistoryAttention(d, heads)
        self.hourly = nn.Sequential(nn.Linear(d + 4, d), nn.GELU(), nn.Linear(d, d))
        self.knn = NeuralKNN(d, knn_hidden)
        self.residual = nn.Sequential(nn.Linear(knn_hidden + 1 + N_STATIC, knn_hidden), nn.GELU(),
                                      nn.Linear(knn_hidden, 1))
        nn.init.zeros_(self.residual[-1].weight)
        nn.init.zeros_(self.residual[-1].bias)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, mask, center, init = batch["x"], batch["mask"], batch["center"], batch["init"]
        b, length, n = x.shape
        span = (self.hist_days + 1) * DAY
        pad = max(0, span - length)

        def last_span(t: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
            """The last ``span`` hours along dim 1, left-padded with ``fill`` when the window is shorter."""
            t = t[:, -span:]
            if pad:
                t = torch.cat([t.new_full((b, pad, *t.shape[2:]), fill), t], 1)
            return t

        ok = last_span(mask) > 0  # (B, span, N)
        xs = last_span(x)
        z = torch.where(ok, xs + last_span(center).unsqueeze(-1) - LOG_REF, torch.zeros_like(xs))
        summ = daily_summaries(z.view(b, -1, DAY, n), ok.view(b, -1, DAY, n))  # (B, H+1, N, 5)
        cal = torch.cat([last_span(batch["tweek"]), last_span(batch["tfeat"])[..., 2:4]], -1)
        cal = cal.view(b, -1, DAY, N_CALENDAR)[:, :, 0]  # calendar of each day's first hour (B, H+1, 4)
        day_feats = torch.cat([summ, cal.unsqueeze(2).expand(-1, -1, n, -1)], -1)  # (B, H+1, N, 9)
        okp, xp = ok[:, -DAY:], xs[:, -DAY:]  # prediction day (B, 24, N)
        source = okp.any(1)  # (B, N) stations with a value on the prediction day
        # the history encoder runs only where it is read: at source stations
        hist = day_feats[:, :-1].permute(0, 2, 1, 3)[source]  # (S, H, 9)
        ctx_s, attn_s = self.history(hist, day_feats[:, -1][source])
        ctx = ctx_s.new_zeros(b, n, ctx_s.shape[-1]).index_put((source,), ctx_s)
        attn = attn_s.new_full((b, n, self.hist_days), 1.0 / self.hist_days).index_put((source,), attn_s)

        hour = last_span(batch["tfeat"])[:, -DAY:, :2]
        feats = torch.cat([ctx.unsqueeze(1).expand(b, DAY, n, -1), (xp * okp).unsqueeze(-1),
                           okp.unsqueeze(-1).to(x.dtype), hour.unsqueeze(2).expand(b, DAY, n, 2)], -1)
        emb = self.hourly(feats)  # (B, 24, N, d)

        emb = self.knn.emb(emb)  # projected once per station, gathered per neighbour below
        dist, bearing = batch["dist"], batch["bearing"]
        # targets: every station at inference; in training only those the loss reads (saves ~half the work)
        if self.training and "loss_mask" in batch:
            tgt = torch.nonzero(batch["loss_mask"].sum((0, 1)) > 0).squeeze(1)
        else:
            tgt = torch.arange(n, device=x.device)
        exclude = tgt.unsqueeze(1) == torch.arange(n, device=x.device).unsqueeze(0)  # not its own neighbour
        nbr, d_n = nearest_sources(dist[tgt], source, self.k, exclude=exclude)
        b_n = torch.gather(bearing[tgt].unsqueeze(0).expand(b, -1, -1), 2, nbr)
        static = batch["static"]
        rel = self._with_static(pair_features(d_n, b_n), static[nbr], static[tgt])
        z_t, w_st = self._interpolate(xp, okp, emb, nbr, rel, None)
        c_day = last_span(center)[:, -DAY:]
        z_st = (init[:, -DAY:] if length >= DAY else last_span(init)[:, -DAY:]).clone()
        z_st[:, :, tgt] = z_t
        keep = min(length, DAY)
        out = {"pred": self._full(to_ugm3(init, center), to_ugm3(z_st, c_day), keep)}
        if self.training:
            return out

        # hidden stations: the kNN-weighted mix of their sources' attention rows
        wbar = w_st.mean(1)
        wbar = wbar / wbar.sum(-1, keepdim=True).clamp_min(1e-12)
        mixed = (wbar.unsqueeze(-1) * torch.gather(
            attn.unsqueeze(1).expand(b, n, n, -1), 2,
            nbr.unsqueeze(-1).expand(-1, -1, -1, self.hist_days))).sum(2)
        has_mix = wbar.sum(-1, keepdim=True) > 0.5
        out["attention"] = torch.where(source.unsqueeze(-1) | ~has_mix, attn, mixed)
        out["knn_idx"], out["knn_weights"] = nbr, w_st

        if "tgt_idx" in batch:
            idx = batch["tgt_idx"].unsqueeze(0).expand(b, -1, -1)
            rel = self._with_static(pair_features(batch["tgt_dist"], batch["tgt_bearing"]).unsqueeze(0),
                                    static[batch["tgt_idx"]].unsqueeze(0), batch["tgt_static"]).expand(b, -1, -1, -1)
            z_g, _ = self._interpolate(xp, okp, emb, idx, rel, batch["tgt_valid"])
            out["grid_pred"] = self._full(to_ugm3(batch["tgt_init"], center), to_ugm3(z_g, c_day), keep)
        return out

    @staticmethod
    def _with_static(geom: torch.Tensor, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Pair features: geometry (…, M, k, 7) + source proxies (…, M, k, S) + target proxies (M, S)."""
        tgt = tgt.unsqueeze(-2).expand(*src.shape[:-1], tgt.shape[-1])
        return torch.cat([geom, src, tgt], -1)

    @staticmethod
    def _full(history: torch.Tensor, day: torch.Tensor, keep: int) -> torch.Tensor:
        """Window output: the IDW init for history hours, the model's prediction for the last ``keep``."""
        return torch.cat([history[:, : history.shape[1] - keep], day[:, DAY - keep:]], 1)

    def _interpolate(self, xp: torch.Tensor, okp: torch.Tensor, emb: torch.Tensor, idx: torch.Tensor,
                     rel: torch.Tensor, valid: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Neural kNN from sources to targets: ``idx`` (B, M, k) → z (B, 24, M), weights (B, 24, M, k)."""
        b, t, _ = xp.shape
        m, k = idx.shape[1], idx.shape[2]
        finite = torch.isfinite(rel).all(-1)  # padded slots carry inf distance
        if valid is not None:
            finite = finite & valid
        rel = torch.where(finite.unsqueeze(-1), rel, torch.zeros_like(rel))
        flat = idx.reshape(b, 1, m * k).expand(b, t, m * k)
        x_n = torch.gather(xp, 2, flat).reshape(b, t, m, k)
        ok_n = torch.gather(okp, 2, flat).reshape(b, t, m, k) & finite.unsqueeze(1)
        emb_n = torch.gather(emb, 2, flat.unsqueeze(-1).expand(-1, -1, -1, emb.shape[-1])).reshape(b, t, m, k, -1)
        w = self.knn(rel, emb_n, ok_n)
        pooled = (w.unsqueeze(-1) * emb_n).sum(-2)
        site = torch.cat([rel[:, :, 0, :1], rel[:, :, 0, -N_STATIC:]], -1)  # nearest distance, target proxies
        res = self.residual(torch.cat([pooled, site.unsqueeze(1).expand(b, t, m, -1)], -1)).squeeze(-1)
        return (w * torch.where(ok_n, x_n, torch.zeros_like(x_n))).sum(-1) + res, w


DEFAULTS = {
    "d": 32, "heads": 4, "knn_hidden": 16, "k": 8, "hist_days": HIST_DAYS, "target_k": 12,
    "window": (HIST_DAYS + 1) * DAY, "predict": DAY, "init_loss": 0.0,
}

SPEC = register_spec(ModelSpec(
    name="aqnet", arch_version=ARCH_VERSION, build=lambda hp: AQNet(**hp), defaults=DEFAULTS, wind="none",
    kriger="aqnet",  # served with its attention and kNN weights (core.engine.aqnet_kriger)
    explains=("attention", "influence"),
))

