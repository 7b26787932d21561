"""Linear regression on neighbours: ridge on the k nearest observed values, fitted on training hours.

Features of a target at hour t (all from stations observed that hour, the target itself excluded):
the IDW estimate of its ``k`` nearest observed stations, their values sorted by distance, and each
value × its distance (lets a neighbour's weight fall with distance) + an intercept.

- **Pooled model** (inductive): one ridge fitted across every station observed during the fitting
  hours, each predicted from the others. During fitting a random share (0–80 %) of the other
  stations is dropped each hour, so the fit sees sparser networks like the ones it is used on.
  It applies to any target: a hidden station never seen, or a grid cell.
- **Per-target model**: a station with ≥ ``min_rows`` fitting rows of its own gets its own ridge,
  shrunk towards the pooled coefficients; used only where that station is hidden in the window.

Fitting hours: the "train" days of the monthly split lying outside the window (all hours outside
the window if there are none). Only values that :func:`core.engine.infer.infer` left visible are
read, so a station hidden at every hour (``S_test``) is never a fitting target.
"""

from __future__ import annotations

import hashlib

import numpy as np
import xarray as xr

from core.baselines._neighbours import (
    Problem,
    candidate_order,
    chunks,
    complete_pairs,
    distances,
    make_result,
    ranked_neighbours,
    window_problem,
)
from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Window
from core.contracts.registry import register
from core.data.splits import time_split

MAX_FIT_HOURS = 800


def features(values: np.ndarray, avail: np.ndarray, order: np.ndarray, dist: np.ndarray, k: int,
             rank_dist: np.ndarray | None = None) -> np.ndarray:
    """(T, N, 2k+2) design rows for every hour and target; NaN rows where nothing is available.

    ``values``/``avail``: (T, S); ``order``: (N, C) candidate stations by distance (target excluded);
    ``dist``: (N, S) km; ``rank_dist``: the distances ``order`` was ranked by (target at inf; default
    ``dist``), used to search beyond the C candidates where fewer than ``k`` are available.
    """
    idx, ok = ranked_neighbours(avail, order, k)  # (T, N, k)
    short_t, short_n = np.nonzero(ok.sum(axis=2) < k)
    if len(short_t):
        i_s, ok_s = idx[short_t, short_n], ok[short_t, short_n]
        complete_pairs(avail, dist if rank_dist is None else rank_dist, order.shape[1], short_t, short_n,
                       i_s, ok_s, k)
        idx[short_t, short_n], ok[short_t, short_n] = i_s, ok_s
    tt = np.arange(values.shape[0])[:, None, None]
    v = np.where(ok, values[tt, idx], 0.0)
    d = np.where(ok, dist[np.arange(dist.shape[0])[None, :, None], idx], 0.0) / 100.0  # 100 km units
    w = np.where(ok, 1.0 / np.maximum(d, 1e-5) ** 2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        idw = (w * v).sum(2) / w.sum(2)  # NaN when no neighbour
    v = np.where(ok, v, idw[..., None])  # fewer than k neighbours: pad with the IDW estimate
    x = np.concatenate([idw[..., None], v, v * d, np.ones_like(idw)[..., None]], axis=2)
    return x


def ridge(x: np.ndarray, y: np.ndarray, alpha: float, prior: np.ndarray | None = None) -> np.ndarray:
    """Ridge coefficients (F,), shrunk towards ``prior`` (zero if None); the intercept (last) is not penalised."""
    f = x.shape[1]
    pen = np.full(f, alpha * max(np.trace(x.T @ x) / f, 1e-9))
    pen[-1] = 0.0
    rhs = x.T @ y + (pen * prior if prior is not None else 0.0)
    return np.linalg.solve(x.T @ x + np.diag(pen) + 1e-9 * np.eye(f), rhs)


class LinearNeighbours:
    """Kriger: ridge regression on the ``k`` nearest observed neighbours (pooled + per-target)."""

    name = "linear"
    history_hours = None  # fits on the whole series outside the window

    def __init__(self, k: int = 8, alpha: float = 1e-3, min_rows: int = 200, seed: int = 0) -> None:
        self.k, self.alpha, self.min_rows, self.seed = int(k), float(alpha), int(min_rows), int(seed)
        self._cache: tuple[bytes, tuple[np.ndarray, dict]] | None = None  # last fit (windows of one run share it)

    def _fit_hours(self, stations: xr.Dataset, window: Window) -> np.ndarray:
        t = stations["time"].values
        outside = (t < window.start) | (t > window.end)
        train = time_split(t)["train"] & outside
        idx = np.flatnonzero(train if train.sum() >= 48 else outside)
        if len(idx) > MAX_FIT_HOURS:
            idx = idx[np.linspace(0, len(idx) - 1, MAX_FIT_HOURS).astype(int)]
        return idx

    def fit(self, stations: xr.Dataset, observed: np.ndarray, window: Window) -> tuple[np.ndarray, dict]:
        """Pooled coefficients (F,) and per-station coefficients {station index: (F,)}."""
        hrs = self._fit_hours(stations, window)
        obs = np.asarray(observed, bool)
        vals = stations["pm25"].values[hrs].astype(float)
        vals = np.where(obs[hrs] if obs.ndim == 2 else obs[None, :], vals, np.nan)
        key = hashlib.sha256(b"".join([stations["time"].values[hrs].tobytes(), vals.tobytes(),
                                       stations["lat"].values.tobytes(), stations["lon"].values.tobytes()])).digest()
        cache = self._cache  # read once: a warm-up thread sharing this model may replace it
        if cache is not None and cache[0] == key:
            return cache[1]
        p = Problem(stations["time"].values[hrs], vals, stations["lat"].values.astype(float),
                    stations["lon"].values.astype(float), stations["station"].values.astype(str))
        dist = distances(p, None)
        n_s = dist.shape[0]
        d_ex = dist.copy()
        d_ex[np.arange(n_s), np.arange(n_s)] = np.inf  # a station never predicts itself
        order = candidate_order(d_ex, min(64, n_s - 1))
        rng = np.random.default_rng(self.seed)
        avail = np.isfinite(vals)
        keep = rng.random(vals.shape) >= rng.uniform(0.0, 0.8, size=(len(hrs), 1))  # masking during fitting
        xs, ys, who = [], [], []
        for sl in chunks(len(hrs), max(1, 1_000_000 // max(1, order.size))):
            x = features(vals[sl], avail[sl] & keep[sl], order, dist, self.k, d_ex)  # (t, S, F)
            y = vals[sl]
            good = np.isfinite(y) & np.isfinite(x).all(2)
            xs.append(x[good])
            ys.append(y[good])
            who.append(np.broadcast_to(np.arange(n_s), y.shape)[good])
        if not xs or sum(len(y) for y in ys) < 2 * (2 * self.k + 2):
            return np.zeros(0), {}
        x, y, who = np.concatenate(xs), np.concatenate(ys), np.concatenate(who)
        pooled = ridge(x, y, self.alpha)
        own = {}
        for j in np.unique(who):
            rows = who == j
            if rows.sum() >= self.min_rows:
                own[int(j)] = ridge(x[rows], y[rows], max(self.alpha, 1e-2), prior=pooled)
        self._cache = (key, (pooled, own))
        return pooled, own

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None,
              window: Window) -> InferenceResult:
        """``station_pred`` (time, station) µg/m³ (observed stations: leave-one-out estimate, or their own
        value when no other station is observed that hour)."""
        pooled, own = self.fit(stations, observed, window)
        p = window_problem(stations, observed, window)
        dist = distances(p, grid)
        n_s = len(p.codes)
        d_ex = dist.copy()
        d_ex[np.arange(n_s), np.arange(n_s)] = np.inf
        order = candidate_order(d_ex, min(64, dist.shape[1] - 1 if grid is None else dist.shape[1]))
        out = np.full((len(p.times), dist.shape[0]), np.nan)
        own_idx = np.array(sorted(own), dtype=int)
        for sl in chunks(len(p.times), max(1, 1_000_000 // max(1, order.size))):
            x = features(p.values[sl], p.available[sl], order, dist, self.k, d_ex)
            if pooled.size == 0:  # nothing to fit on: plain IDW of the neighbours
                pred = x[..., 0]
            else:
                pred = x @ pooled
                if len(own_idx):
                    coef = np.stack([own[j] for j in own_idx])  # (J, F)
                    pred[:, own_idx] = np.einsum("tjf,jf->tj", x[:, own_idx], coef)
            out[sl] = np.maximum(pred, 0.0)
        # an observed station with no other observed station that hour has nothing to be estimated
        # from: its own value (rather than an unexplained NaN)
        out[:, :n_s] = np.where(np.isnan(out[:, :n_s]) & p.available, p.values, out[:, :n_s])
        return make_result(p, out, grid, self.name, {"k": self.k, "per_target_models": len(own),
                                                    "pooled": pooled.tolist()})


@register("linear")
def make_linear(k: int = 8) -> LinearNeighbours:
    return LinearNeighbours(k)
