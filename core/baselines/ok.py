"""Ordinary kriging with a spherical variogram fitted per hour, local neighbourhood, batched solves.

Per hour: the empirical semivariance of the observed stations is binned by distance and a
spherical model γ(h) = c0 + c1·sph(h / a) is fitted (grid search on the range a, weighted
least squares for nugget c0 ≥ 0 and partial sill c1 ≥ 0 — closed form, so all hours fit at
once). Each target is then kriged from its ``n_neighbours`` nearest observed stations; all
(hour, target) systems are solved in one batched ``numpy.linalg.solve``.

Guard: kriging is numerically fragile (a near-singular system gives absurd values in some hours). A
prediction that is non-finite or falls further than the neighbours' spread outside their range
is replaced by IDW (power 2, same neighbours) for that hour and target; results are clipped at 0. The number of
replaced values and of hours touched is reported in ``extras``.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from core.baselines._neighbours import (
    Problem,
    candidate_order,
    chunks,
    complete_pairs,
    distances,
    make_result,
    ranked_pairs,
    window_problem,
)
from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Window
from core.contracts.registry import register
from core.geo import haversine_km

MAX_LAG_KM = 250.0
N_BINS = 12
RANGES_KM = np.geomspace(15.0, 800.0, 18)
ZERO_LAG_KM = 0.01  # closer than this counts as the same point: γ = 0, so kriging is exact at stations


def spherical(h: np.ndarray, nugget: np.ndarray, psill: np.ndarray, rng: np.ndarray,
              zero_lag: bool = True) -> np.ndarray:
    """Spherical variogram; ``h`` broadcasts against the per-hour parameters (nugget, psill, range).

    ``zero_lag=False`` skips the γ(0) = 0 test (callers that overwrite the diagonal anyway).
    """
    x = h / rng
    np.minimum(x, 1.0, out=x)
    g = x * x
    g *= -0.5
    g += 1.5
    g *= x
    g *= psill
    g += nugget
    if zero_lag:
        g[np.broadcast_to(h, g.shape) < ZERO_LAG_KM] = 0.0
    return g


@functools.lru_cache(maxsize=8)
def _lag_bins(lat_bytes: bytes, lon_bytes: bytes, max_lag: float, n_bins: int) -> tuple[np.ndarray, ...]:
    """Station pairs closer than ``max_lag`` km sorted by lag bin: (i, j, bins present, their first pair, bin
    centres km). Kept per set of coordinates: a network's geometry does not change from one window to the next
    (spin refits its variogram on every inference window)."""
    lat, lon = np.frombuffer(lat_bytes), np.frombuffer(lon_bytes)
    d = haversine_km(lat, lon, lat, lon)
    i, j = np.triu_indices(len(lat), k=1)
    dij = d[i, j]
    keep = dij < max_lag
    i, j, dij = i[keep], j[keep], dij[keep]
    edges = np.linspace(0.0, max_lag, n_bins + 1)
    b = np.clip(np.digitize(dij, edges) - 1, 0, n_bins - 1)
    order = np.argsort(b, kind="stable")
    i, j, dij, b = i[order], j[order], dij[order], b[order]
    present = np.unique(b)
    starts = np.searchsorted(b, present)
    centres = (edges[:-1] + edges[1:]) / 2
    if len(dij):
        centres[present] = np.add.reduceat(dij, starts) / np.diff(np.r_[starts, len(b)])
    for a in (i, j, present, starts, centres):
        a.flags.writeable = False  # shared by every later call with these coordinates
    return i, j, present, starts, centres


def empirical_variogram(values: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                        max_lag: float = MAX_LAG_KM, n_bins: int = N_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binned semivariance per hour.

    ``values`` (T, S) µg/m³ with NaN = unavailable. Returns bin centres (B,) km, semivariance
    (T, B) (µg/m³)² and pair counts (T, B). Pairs closer than ``max_lag`` are sorted by bin once per set of
    coordinates (:func:`_lag_bins`), so each hour's bin sums are one ``np.add.reduceat`` over a (T, pairs) array.
    """
    i, j, present, starts, centres = _lag_bins(np.ascontiguousarray(lat, "float64").tobytes(),
                                               np.ascontiguousarray(lon, "float64").tobytes(),
                                               float(max_lag), int(n_bins))
    centres = centres.copy()
    gamma = np.zeros((values.shape[0], n_bins))
    counts = np.zeros_like(gamma)
    if len(i) == 0:
        return centres, gamma, counts
    for sl in chunks(values.shape[0], max(1, 2_000_000 // len(i))):
        diff = values[sl][:, i] - values[sl][:, j]  # (t, P)
        ok = np.isfinite(diff)
        sq = np.where(ok, 0.5 * diff * diff, 0.0)
        counts[sl, present] = np.add.reduceat(ok.astype(np.float64), starts, axis=1)
        sums = np.add.reduceat(sq, starts, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gamma[sl, present] = np.where(counts[sl][:, present] > 0, sums / counts[sl][:, present], 0.0)
    return centres, gamma, counts


def fit_spherical(centres: np.ndarray, gamma: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-hour (nugget, psill, range) minimising the count-weighted squared error, all hours at once."""
    best_sse = np.full(gamma.shape[0], np.inf)
    out = [np.zeros(gamma.shape[0]) for _ in range(3)]
    w = counts
    sw = w.sum(1)
    for a in RANGES_KM:
        f = np.minimum(centres / a, 1.0)
        f = 1.5 * f - 0.5 * f**3  # (B,)
        swf, swff = w @ f, w @ f**2
        swg, swfg = (w * gamma).sum(1), (w * gamma) @ f
        det = sw * swff - swf**2
        with np.errstate(invalid="ignore", divide="ignore"):
            c1 = np.where(det > 1e-12, (sw * swfg - swf * swg) / det, 0.0)
            c0 = np.where(sw > 0, (swg - c1 * swf) / np.maximum(sw, 1e-12), 0.0)
            # constraints: nugget ≥ 0 and partial sill ≥ 0 (refit the free one on the boundary)
            neg0 = c0 < 0
            c1 = np.where(neg0, np.where(swff > 0, swfg / np.maximum(swff, 1e-12), 0.0), c1)
            c0 = np.where(neg0, 0.0, c0)
            neg1 = c1 < 0
            c0 = np.where(neg1, np.where(sw > 0, swg / np.maximum(sw, 1e-12), 0.0), c0)
            c1 = np.maximum(c1, 0.0)
        sse = (w * (gamma - c0[:, None] - c1[:, None] * f[None, :]) ** 2).sum(1)
        better = sse < best_sse
        best_sse = np.where(better, sse, best_sse)
        for arr, new in zip(out, (c0, c1, np.full_like(c0, a)), strict=True):
            arr[better] = new[better]
    nugget, psill, rng = out
    sill = nugget + psill
    psill = np.maximum(psill, 1e-6 * sill + 1e-6)  # a flat variogram would make the system singular
    return nugget, psill, rng


class OrdinaryKriging:
    """Kriger: ordinary kriging, per-hour spherical variogram, ``n_neighbours`` nearest observed stations."""

    name = "ok"
    history_hours = 0  # per-hour method: reads nothing before the window

    def __init__(self, n_neighbours: int = 16, guard: bool = True) -> None:
        self.k = int(n_neighbours)
        self.guard = guard

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None,
              window: Window) -> InferenceResult:
        """``station_pred`` (time, station) µg/m³; extras: variogram parameters and fallback counts."""
        p = self._transform(window_problem(stations, observed, window))
        n_t = len(p.times)
        dist = distances(p, grid)  # (N, S)
        d_ss = haversine_km(p.lat, p.lon, p.lat, p.lon).astype(np.float32)  # float32: halves the (t,N,k,k) cost
        centres, gamma, counts = empirical_variogram(p.values, p.lat, p.lon)
        nug, psill, rng = fit_spherical(centres, gamma, counts)
        n_cand = max(64, 4 * self.k)
        order = candidate_order(dist, n_cand)
        avail = p.available
        n_s = len(p.codes)
        out = np.full((n_t, dist.shape[0]), np.nan)
        # OK is an exact interpolator (γ(0) = 0): at a station observed that hour the kriged value
        # is its own value, so those systems need not be solved.
        out[:, :n_s] = np.where(avail, p.values, np.nan)
        var = np.zeros_like(out)  # kriging variance (value units²); 0 where the value is observed
        n_fallback = widened = 0
        fallback_hours = np.zeros(n_t, bool)
        need = np.ones((n_t, dist.shape[0]), bool)
        need[:, :n_s] = ~avail
        ti, ni = np.nonzero(need)
        for m in chunks(len(ti), 20_000):
            h, n_m = ti[m], ni[m]
            i_m, ok_m = ranked_pairs(avail, order, h, n_m, self.k)  # (M, k)
            # nearest candidates all hidden: the list grows until k observed stations are found
            widened += complete_pairs(avail, dist, n_cand, h, n_m, i_m, ok_m, self.k)
            z = np.where(ok_m, p.values[h[:, None], i_m], 0.0)
            pred, var_m = self._krige(i_m, ok_m, z, dist[n_m[:, None], i_m], d_ss, nug[h], psill[h], rng[h])
            if self.guard:
                zmin = np.where(ok_m, z, np.inf).min(axis=1)
                zmax = np.where(ok_m, z, -np.inf).max(axis=1)
                spread = zmax - zmin
                bad = ok_m.any(axis=1) & (~np.isfinite(pred) | (pred < zmin - spread) | (pred > zmax + spread))
                if bad.any():
                    w = np.where(ok_m[bad], dist[n_m[bad][:, None], i_m[bad]] ** -2.0, 0.0)
                    pred[bad] = (w * z[bad]).sum(1) / w.sum(1)
                    n_fallback += int(bad.sum())
                    fallback_hours[h[bad]] = True
                    var_m[bad] = (nug[h] + psill[h])[bad]  # IDW fallback: no kriging variance, use the sill
                pred = np.maximum(pred, 0.0)
            out[h, n_m] = pred
            var[h, n_m] = var_m
        extras = {
            "n_neighbours": self.k,
            "fallback_values": n_fallback,
            "fallback_hours": int(fallback_hours.sum()),
            "hours": n_t,
            "widened_searches": widened,
            "variogram": {"nugget": nug, "psill": psill, "range_km": rng},
        }
        return self._result(p, out, var, grid, extras)

    # Hooks for kriging a transform of PM2.5 (core.baselines.logok): identity here.
    def _transform(self, p: Problem) -> Problem:
        return p

    def _result(self, p: Problem, pred: np.ndarray, var: np.ndarray, grid: GridSpec | None,
                extras: dict) -> InferenceResult:
        """Wrap (T, N_targets) predictions; ``var`` (kriging variance) is unused by plain OK."""
        return make_result(p, pred, grid, self.name, extras)

    def _krige(self, idx: np.ndarray, ok: np.ndarray, z: np.ndarray, d0: np.ndarray, d_ss: np.ndarray,
               nug: np.ndarray, psill: np.ndarray, rng: np.ndarray) -> np.ndarray:
        """Solve M ordinary-kriging systems at once.

        ``idx``/``ok``/``z``/``d0``: (M, k) neighbour indices, availability, values (µg/m³) and
        distances to the target (km); ``nug``/``psill``/``rng``: (M,) variogram of each system's hour.
        Returns (M,) predictions and (M,) kriging variances σ² = Σ λ_i γ_i0 + μ, NaN where no
        neighbour is available.
        """
        m, k = idx.shape
        par32 = [q[:, None, None].astype(np.float32) for q in (nug, psill, rng)]
        g_nn = spherical(d_ss[idx[:, :, None], idx[:, None, :]], *par32, zero_lag=False)  # (M, k, k)
        g_n0 = spherical(d0, nug[:, None], psill[:, None], rng[:, None])  # (M, k)
        a = np.zeros((m, k + 1, k + 1))
        a[:, :k, :k] = np.where(ok[:, :, None] & ok[:, None, :], g_nn, 0.0)
        diag = np.arange(k)
        # unavailable neighbours are decoupled (weight 0); a tiny negative jitter regularises Γ
        a[:, diag, diag] = np.where(ok, -1e-9 * (nug + psill)[:, None], 1.0)
        a[:, :k, k] = ok
        a[:, k, :k] = ok
        b = np.concatenate([np.where(ok, g_n0, 0.0), np.ones((m, 1))], axis=1)
        has = ok.any(axis=1)
        a[~has] = np.eye(k + 1)  # nothing observed: dummy system, result NaN below
        try:
            lam = np.linalg.solve(a, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            lam = np.einsum("...ij,...j->...i", np.linalg.pinv(a), b)
        var = np.maximum((lam[:, :k] * np.where(ok, g_n0, 0.0)).sum(axis=1) + lam[:, k], 0.0)
        return np.where(has, (lam[:, :k] * z).sum(axis=1), np.nan), np.where(has, var, np.nan)


@register("ok")
def make_ok(n_neighbours: int = 16) -> OrdinaryKriging:
    return OrdinaryKriging(n_neighbours)
