"""Shared geometry of the classical baselines: targets, distances, ranked observed neighbours.

All baselines predict at *targets* = every station of the set, then (optionally) every grid
cell. They differ only in how they weigh the observed stations, so the geometry lives here.
Everything is vectorised over hours; per-hour Python loops would not scale to a year of data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import Window
from core.geo import haversine_km

MIN_DIST_KM = 1e-3  # a target on top of a station: keeps 1/d finite, makes the interpolators exact


@dataclass(frozen=True)
class Problem:
    """One inference request, reduced to arrays.

    - ``times``: (T,) datetime64 of the window;
    - ``values``: (T, S) float64 µg/m³ PM2.5 of the window, NaN where hidden or missing;
    - ``lat``/``lon``: (S,) station coordinates; ``codes``: (S,) station codes.
    """

    times: np.ndarray
    values: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    codes: np.ndarray

    @property
    def available(self) -> np.ndarray:
        """(T, S) bool: observed and finite (the only values a baseline may read)."""
        return np.isfinite(self.values)


def window_problem(stations: xr.Dataset, observed: np.ndarray, window: Window) -> Problem:
    """Slice ``stations`` to ``window``; values not observed are NaN (already blanked by infer)."""
    t = stations["time"].values
    sel = (t >= window.start) & (t <= window.end)
    vals = stations["pm25"].values[sel].astype("float64")
    obs = np.asarray(observed, bool)
    if obs.ndim == 2:
        obs = obs[sel]
    lat = stations["lat"].values.astype(float)
    lon = stations["lon"].values.astype(float)
    # a station without coordinates cannot be placed: never an input (its distances are inf, below)
    vals = np.where(obs & located(lat, lon)[None, :], vals, np.nan)
    return Problem(times=t[sel], values=vals, lat=lat, lon=lon, codes=stations["station"].values.astype(str))


def located(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(S,) bool: the station has finite coordinates."""
    return np.isfinite(np.asarray(lat, float)) & np.isfinite(np.asarray(lon, float))


def target_points(p: Problem, grid: GridSpec | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Coordinates of all targets: stations first, then grid cells (row-major); returns n_stations too."""
    if grid is None:
        return p.lat, p.lon, len(p.lat)
    glat, glon = grid.points()
    return np.concatenate([p.lat, glat]), np.concatenate([p.lon, glon]), len(p.lat)


def distances(p: Problem, grid: GridSpec | None) -> np.ndarray:
    """(N_targets, S) km from every target to every station, floored at :data:`MIN_DIST_KM`.

    Inf where either end has no coordinates: weight 0 for IDW, ranked last as a candidate.
    """
    tlat, tlon, _ = target_points(p, grid)
    d = np.maximum(haversine_km(tlat, tlon, p.lat, p.lon), MIN_DIST_KM)
    return np.where(np.isfinite(d), d, np.inf)


def candidate_order(dist: np.ndarray, n_candidates: int) -> np.ndarray:
    """(N, C) station indices sorted by distance, the C nearest per target."""
    c = min(n_candidates, dist.shape[1])
    part = np.argpartition(dist, c - 1, axis=1)[:, :c] if c < dist.shape[1] else np.tile(
        np.arange(dist.shape[1]), (dist.shape[0], 1))
    d = np.take_along_axis(dist, part, axis=1)
    return np.take_along_axis(part, np.argsort(d, axis=1, kind="stable"), axis=1)


def ranked_neighbours(available: np.ndarray, order: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest *available* stations per hour and target.

    ``available``: (T, S) bool; ``order``: (N, C) candidates sorted by distance.
    Returns ``idx`` (T, N, k) station indices and ``ok`` (T, N, k) bool (False where fewer than
    ``k`` candidates were available; ``idx`` then points at candidate 0 and must be ignored).
    """
    avail = available[:, order]  # (T, N, C)
    rank = np.cumsum(avail, axis=2, dtype=np.int16) - 1  # rank among available candidates (C ≤ 32767)
    take = avail & (rank < k)
    t_i, n_i, c_i = np.nonzero(take)
    idx = np.zeros(available.shape[:1] + order.shape[:1] + (k,), dtype=np.int64)
    ok = np.zeros(idx.shape, dtype=bool)
    r = rank[t_i, n_i, c_i]
    idx[t_i, n_i, r] = order[n_i, c_i]
    ok[t_i, n_i, r] = True
    return idx, ok


def ranked_pairs(available: np.ndarray, order: np.ndarray, t_idx: np.ndarray, n_idx: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ranked_neighbours` for selected (hour, target) pairs only → ``idx``, ``ok`` of shape (M, k)."""
    avail = available[t_idx[:, None], order[n_idx]]  # (M, C)
    rank = np.cumsum(avail, axis=1, dtype=np.int16) - 1
    m_i, c_i = np.nonzero(avail & (rank < k))
    idx = np.zeros((len(t_idx), k), dtype=np.int64)
    ok = np.zeros(idx.shape, dtype=bool)
    r = rank[m_i, c_i]
    idx[m_i, r] = order[n_idx[m_i], c_i]
    ok[m_i, r] = True
    return idx, ok


def complete_pairs(available: np.ndarray, dist: np.ndarray, n_candidates: int, t_idx: np.ndarray,
                   n_idx: np.ndarray, idx: np.ndarray, ok: np.ndarray, k: int) -> int:
    """Re-rank, in place, the (hour, target) pairs whose ``n_candidates`` nearest stations held fewer
    than ``k`` available ones while more are available that hour: the candidate list doubles until
    ``k`` are found or it spans every located station. Returns the number of pairs re-ranked.

    Without this, a target whose nearby stations are all hidden got NaN although far stations were
    observed. ``idx``/``ok``: (M, k) from :func:`ranked_pairs` (or a view of :func:`ranked_neighbours`'
    output for these pairs); ``dist``: (N, S) km used for the ranking (inf = never a candidate).
    """
    n_s = dist.shape[1]
    if n_candidates >= n_s or not len(t_idx):
        return 0
    found = ok.sum(axis=1)
    step = max(1, 5_000_000 // n_s)  # bounds the (pairs, S) temporaries
    n_av = np.concatenate([(available[t_idx[m]] & np.isfinite(dist[n_idx[m]])).sum(axis=1)
                           for m in chunks(len(t_idx), step)])
    short = np.flatnonzero((found < k) & (found < n_av))
    c, n_done = n_candidates, len(short)
    while len(short) and c < n_s:
        c = min(2 * c, n_s)
        targets, inv = np.unique(n_idx[short], return_inverse=True)
        order = candidate_order(dist[targets], c)
        for m in chunks(len(short), max(1, 5_000_000 // c)):
            sel = short[m]
            i2, ok2 = ranked_pairs(available, order, t_idx[sel], inv[m], k)
            idx[sel], ok[sel] = i2, ok2
        short = short[(ok[short].sum(axis=1) < np.minimum(k, n_av[short]))]
    return n_done


def idw_matrix(values: np.ndarray, dist: np.ndarray, power: float) -> np.ndarray:
    """IDW of (T, S) values at N targets with (N, S) distances → (T, N); NaN where nothing observed.

    Vectorised as two matrix products: Σ w·z / Σ w over available stations.
    """
    w = dist ** (-power)
    avail = np.isfinite(values)
    z = np.where(avail, values, 0.0)
    num = z @ w.T
    den = avail.astype(float) @ w.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def chunks(n: int, size: int):
    """Slices covering ``range(n)`` in steps of ``size`` (bounds memory of (T, N, ...) arrays)."""
    for a in range(0, n, max(1, size)):
        yield slice(a, min(n, a + size))


def make_result(p: Problem, pred: np.ndarray, grid: GridSpec | None, model: str, extras: dict | None = None):
    """Wrap (T, N_targets) predictions (stations first, then grid cells) as an InferenceResult."""
    from core.contracts.kriger import InferenceResult, grid_dataset

    n_s = len(p.codes)
    station_pred = xr.DataArray(
        pred[:, :n_s].astype("float32"), dims=("time", "station"),
        coords={"time": p.times, "station": p.codes}, name="pm25", attrs={"units": "ug m-3"},
    )
    surface = None
    if grid is not None:
        surface = grid_dataset(p.times, grid, pred[:, n_s:].reshape(len(p.times), *grid.shape), model=model)
    return InferenceResult(station_pred=station_pred, model=model, wind="none", grid=surface,
                           extras=dict(extras or {}))
