"""Calibrated prediction intervals for every model: split conformal, conditioned on what drives the error.

Any Kriger's point estimate ``ŷ`` becomes ``[lo, hi]`` at a stated level (default 90 %) by
:class:`CalibratedKriger`, a wrapper that keeps the Kriger contract. The interval is multiplicative
(PM2.5 errors scale with the level): with ``r = log1p(y) − log1p(ŷ)``,

    lo = expm1(log1p(ŷ) + q_lo(bin)),   hi = expm1(log1p(ŷ) + q_hi(bin))

where ``q_lo``/``q_hi`` are the conformal ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of ``r``
measured on *validation days at hidden non-test stations* (:mod:`core.evaluation.calibrate` fits
them; ``S_test`` never takes part). Bins condition on

- the distance from the target to the nearest station observed that hour (the main driver: an
  isolated target is far less certain) — widths are made non-decreasing in distance;
- the predicted level (relative errors are larger in clean air);
- the season.

A bin with too few calibration cells borrows the quantiles of its coarser parent (season pooled,
then level pooled). The fitted :class:`IntervalTable` ships as ``assets/models/<name>/intervals.json``
with a fingerprint of the checkpoint/card it was fitted for; :func:`load_table` refuses a stale one.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from core.engine.result import InferenceResult, Window
from core.geo import haversine_km, within_reach_box
from core.grid import GridSpec
from core.paths import MODELS_DIR
from core.seasons import SEASONS, season_index

DEFAULT_LEVEL = 0.9
DIST_EDGES_KM = (2.0, 5.0, 10.0, 20.0, 35.0, 60.0)  # nearest observed station: 7 bins
LEVEL_EDGES = (15.0, 35.0, 75.0, 150.0)  # predicted µg/m³ (HJ 633 breakpoints): 5 bins
MIN_COUNT = 150  # calibration cells a bin needs before it stops borrowing from its parent
N_CANDIDATES = 16  # nearest stations searched first for the nearest observed one
GRID_REACH_KM = 150.0  # grid targets search the stations within this distance first (see NearestObserved)
TABLE_FILE = "intervals.json"


def fingerprint(name: str, root: Path | None = None) -> str:
    """sha256 over the files that define a shipped model (``model.pt``, ``card.json``); "" for none."""
    folder = (root or MODELS_DIR) / name
    h = hashlib.sha256()
    found = False
    for f in ("model.pt", "card.json"):
        p = folder / f
        if p.is_file():
            h.update(f.encode())
            h.update(p.read_bytes())
            found = True
    return h.hexdigest() if found else ""


@dataclass
class IntervalTable:
    """Conformal quantiles of ``r = log1p(y) − log1p(ŷ)`` per (distance, level, season) bin.

    ``q_lo``/``q_hi``: (D, V, S) arrays, D = len(dist_edges)+1, V = len(level_edges)+1, S = 4 seasons.
    """

    model: str
    level: float
    q_lo: np.ndarray
    q_hi: np.ndarray
    counts: np.ndarray
    dist_edges: tuple[float, ...] = DIST_EDGES_KM
    level_edges: tuple[float, ...] = LEVEL_EDGES
    fingerprint: str = ""
    meta: dict = field(default_factory=dict)

    def bins(self, pred: np.ndarray, near_km: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, ...]:
        """Bin indices of (T, N) predictions (µg/m³) and nearest-observed distances (km) at ``times`` (T,)."""
        d = np.searchsorted(np.asarray(self.dist_edges), near_km, side="right")
        v = np.searchsorted(np.asarray(self.level_edges), np.nan_to_num(pred, nan=0.0), side="right")
        s = np.broadcast_to(season_index(times)[:, None], pred.shape)
        return d, v, s

    def bounds(self, pred: np.ndarray, near_km: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) µg/m³ for (T, N) predictions; NaN where the prediction is NaN."""
        d, v, s = self.bins(pred, near_km, times)
        z = np.log1p(np.maximum(pred, 0.0)).astype("float32")  # float32: a year of 1 km maps stays cheap
        lo = np.expm1(np.maximum(z + self.q_lo.astype("float32")[d, v, s], 0.0))
        hi = np.expm1(z + self.q_hi.astype("float32")[d, v, s])
        return lo, hi

    def to_json(self) -> dict:
        out = asdict(self)
        for k in ("q_lo", "q_hi", "counts"):
            out[k] = np.asarray(out[k]).tolist()
        out["seasons"] = list(SEASONS)
        return out

    @classmethod
    def from_json(cls, data: dict) -> IntervalTable:
        data = dict(data)
        data.pop("seasons", None)
        for k in ("q_lo", "q_hi"):
            data[k] = np.asarray(data[k], dtype=float)
        data["counts"] = np.asarray(data["counts"], dtype=int)
        data["dist_edges"], data["level_edges"] = tuple(data["dist_edges"]), tuple(data["level_edges"])
        return cls(**data)


def _conformal(r: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal lower/upper quantiles of residuals ``r`` with the finite-sample correction."""
    n = len(r)
    a = (1.0 - level) / 2
    k_hi = min(n - 1, int(np.ceil((n + 1) * (1 - a))) - 1)
    k_lo = max(0, int(np.floor((n + 1) * a)) - 1)
    srt = np.sort(r)
    return float(srt[k_lo]), float(srt[k_hi])


def fit_table(model: str, pred: np.ndarray, truth: np.ndarray, near_km: np.ndarray, times: np.ndarray,
              level: float = DEFAULT_LEVEL, min_count: int = MIN_COUNT, fingerprint_: str = "",
              meta: dict | None = None) -> IntervalTable:
    """Fit the table from flat calibration cells: ``pred``/``truth`` µg/m³, ``near_km``, ``times`` (all (n,)).

    Quantiles per full bin when it has ``min_count`` cells, else from the season-pooled bin, else the
    level-pooled one, else everything. Finally the upper (lower) quantile is made non-decreasing
    (non-increasing) in distance, so an interval never narrows as the nearest monitor gets farther.
    """
    ok = np.isfinite(pred) & np.isfinite(truth)
    pred, truth, near_km, times = pred[ok], truth[ok], near_km[ok], times[ok]
    if len(pred) < 20:
        raise ValueError(f"only {len(pred)} calibration cells: too few to calibrate an interval")
    r = np.log1p(np.maximum(truth, 0.0)) - np.log1p(np.maximum(pred, 0.0))
    tab = IntervalTable(model, float(level), np.zeros(0), np.zeros(0), np.zeros(0, int))
    d, v, s = tab.bins(pred[:, None], near_km[:, None], times)
    d, v, s = d[:, 0], v[:, 0], s[:, 0]
    shape = (len(DIST_EDGES_KM) + 1, len(LEVEL_EDGES) + 1, len(SEASONS))
    q_lo, q_hi, counts = np.zeros(shape), np.zeros(shape), np.zeros(shape, int)
    overall = _conformal(r, level)
    for di in range(shape[0]):
        in_d = d == di
        for vi in range(shape[1]):
            in_dv = in_d & (v == vi)
            for si in range(shape[2]):
                in_dvs = in_dv & (s == si)
                counts[di, vi, si] = int(in_dvs.sum())
                for members in (in_dvs, in_dv, in_d):
                    if members.sum() >= min_count:
                        q_lo[di, vi, si], q_hi[di, vi, si] = _conformal(r[members], level)
                        break
                else:
                    q_lo[di, vi, si], q_hi[di, vi, si] = overall
    q_hi = np.maximum.accumulate(q_hi, axis=0)
    q_lo = np.minimum.accumulate(q_lo, axis=0)
    return IntervalTable(model, float(level), q_lo, q_hi, counts, fingerprint=fingerprint_, meta=dict(meta or {}))


def table_path(name: str, root: Path | None = None) -> Path:
    return (root or MODELS_DIR) / name / TABLE_FILE


def save_table(table: IntervalTable, root: Path | None = None) -> Path:
    p = table_path(table.model, root)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(table.to_json(), indent=1))
    return p


def load_table(name: str, root: Path | None = None) -> IntervalTable | None:
    """The shipped table of ``name``, or None (absent, unreadable, or fitted for another checkpoint — warned)."""
    p = table_path(name, root)
    if not p.is_file():
        return None
    try:
        table = IntervalTable.from_json(json.loads(p.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        warnings.warn(f"{p}: unreadable interval calibration ({err}); run "
                      f"`python -m core calibrate --model {name}`. Serving {name} without intervals.", stacklevel=2)
        return None
    if table.fingerprint != fingerprint(name, root):
        warnings.warn(f"{p} was calibrated for another version of '{name}' (its checkpoint or card changed); run "
                      f"`python -m core calibrate --model {name}`. Serving {name} without intervals.", stacklevel=2)
        return None
    return table


class NearestObserved:
    """Distance (km) from targets to the nearest station observed each hour, with cached geometry.

    ``dist`` (N, S) target × station km is built once per (targets, stations) pair; per call only the
    ``N_CANDIDATES`` nearest stations are searched, the rest only where none of them is observed.

    ``reach_km`` (grids, tiles of a national grid): the geometry covers only the stations within that
    distance of the targets' box; a (target, hour) whose nearest observed one among them is farther than
    ``reach_km`` is searched again over every station — the same distance as without ``reach_km``.
    """

    def __init__(self, reach_km: float | None = None) -> None:
        self.reach_km = reach_km
        self._key: tuple | None = None
        self._geom: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @staticmethod
    def _build(lat: np.ndarray, lon: np.ndarray, tlat: np.ndarray, tlon: np.ndarray):
        """``dist`` (N, S) km (inf where unknown) and ``order`` (N, C): the C nearest stations, nearest first."""
        dist = haversine_km(tlat, tlon, lat, lon)
        dist = np.where(np.isfinite(dist), dist, np.inf)
        c = min(N_CANDIDATES, dist.shape[1])
        if c == 0:
            return dist, np.zeros((len(dist), 0), int)
        part = np.argpartition(dist, c - 1, axis=1)[:, :c] if c < dist.shape[1] else \
            np.tile(np.arange(c), (len(dist), 1))
        # ties may order either way: only the distance found is used, and it is the same
        order = np.take_along_axis(part, np.argsort(np.take_along_axis(dist, part, 1), axis=1), 1)
        return dist, order

    def _geometry(self, lat: np.ndarray, lon: np.ndarray, tlat: np.ndarray, tlon: np.ndarray):
        key = (lat.tobytes(), lon.tobytes(), tlat.tobytes(), tlon.tobytes(), self.reach_km)
        if key != self._key:
            sel = (np.arange(len(lat)) if self.reach_km is None
                   else np.flatnonzero(within_reach_box(lat, lon, tlat, tlon, self.reach_km)))
            self._key, self._geom = key, (sel, *self._build(lat[sel], lon[sel], tlat, tlon))
        return self._geom

    def __call__(self, available: np.ndarray, lat: np.ndarray, lon: np.ndarray, tlat: np.ndarray,
                 tlon: np.ndarray) -> np.ndarray:
        """``available`` (T, S) bool → (T, N) km (inf where no station is observed that hour)."""
        sel, dist, order = self._geometry(lat, lon, tlat, tlon)
        near = self._walk(available[:, sel], dist, order)
        if self.reach_km is not None:
            t_i, n_i = np.nonzero(near > self.reach_km)
            if len(t_i):  # nothing observed within reach: search every station for those targets
                u, inv = np.unique(n_i, return_inverse=True)
                near[t_i, n_i] = self._walk(available, *self._build(lat, lon, tlat[u], tlon[u]))[t_i, inv]
        return near

    @staticmethod
    def _walk(available: np.ndarray, dist: np.ndarray, order: np.ndarray) -> np.ndarray:
        n_t, n = available.shape[0], dist.shape[0]
        if dist.shape[1] == 0:
            return np.full((n_t, n), np.inf)
        d_cand = np.take_along_axis(dist, order, axis=1)  # (N, C)
        # Walk the candidates nearest-first over the (hour, target) pairs still without an observed one:
        # most targets' nearest station is observed, so the pairs left shrink fast (cheaper than a full
        # (T, N, C) gather + argmax).
        hit0 = available[:, order[:, 0]]  # (T, N): the nearest station itself is observed
        near = np.where(hit0, d_cand[None, :, 0], np.inf)
        t_i, n_i = np.nonzero(~hit0)
        for c in range(1, order.shape[1]):
            hit = available[t_i, order[n_i, c]]
            near[t_i[hit], n_i[hit]] = d_cand[n_i[hit], c]
            t_i, n_i = t_i[~hit], n_i[~hit]
            if not len(t_i):
                return near
        full = np.where(available[t_i], dist[n_i], np.inf)  # none of the candidates observed: every station
        near[t_i, n_i] = full.min(axis=1)
        return near


class CalibratedKriger:
    """Any Kriger plus calibrated intervals: ``station_lo``/``station_hi`` and grid ``pm25_lo``/``pm25_hi``."""

    def __init__(self, base, table: IntervalTable) -> None:
        self.base = base
        self.table = table
        self.name = base.name
        self.level = table.level
        # stations and grid cells apart: the station geometry is the same for every tile of a run (cached),
        # a tile's cells only measure distances to the stations near them
        self._near = NearestObserved()
        self._near_grid = NearestObserved(reach_km=GRID_REACH_KM)

    def __getattr__(self, attr: str):  # history_hours, hparams, card, device, module … of the wrapped model
        if attr in ("base", "table", "_near", "_near_grid"):
            raise AttributeError(attr)
        return getattr(self.base, attr)

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None,
              window: Window) -> InferenceResult:
        res = self.base.infer(stations, observed, grid, window)
        return self.add_intervals(res, stations, observed, grid)

    def add_intervals(self, res: InferenceResult, stations: xr.Dataset, observed: np.ndarray,
                      grid: GridSpec | None) -> InferenceResult:
        """Set the calibrated interval on ``res`` (replacing any model-based one) at its level."""
        times = res.station_pred["time"].values
        t_all = stations["time"].values
        sel = np.isin(t_all, times)
        obs = np.asarray(observed, bool)
        obs = obs[sel] if obs.ndim == 2 else np.broadcast_to(obs, (int(sel.sum()), stations.sizes["station"]))
        avail = obs & np.isfinite(stations["pm25"].values[sel])
        lat, lon = stations["lat"].values.astype(float), stations["lon"].values.astype(float)
        pos = {c: i for i, c in enumerate(stations["station"].values.astype(str))}
        cols = np.array([pos[c] for c in res.station_pred["station"].values.astype(str)])
        near = self._near(avail, lat, lon, lat[cols], lon[cols])
        if grid is not None and res.grid is not None:
            glat, glon = grid.points()
            near = np.concatenate([near, self._near_grid(avail, lat, lon, glat, glon)], axis=1)
        n_s = len(cols)
        if res.station_lo is not None:  # the model's own (uncalibrated) interval, kept for comparison
            res.extras["own_interval"] = {"station_lo": res.station_lo, "station_hi": res.station_hi,
                                          **(res.extras.get("interval") or {})}
        sp = res.station_pred.values
        lo, hi = self.table.bounds(sp, near[:, :n_s], times)
        res.station_lo = res.station_pred.copy(data=lo.astype("float32"))
        res.station_hi = res.station_pred.copy(data=hi.astype("float32"))
        attrs = {"units": "ug m-3", "level": self.level, "method": "split conformal (validation days)"}
        res.station_lo.attrs, res.station_hi.attrs = attrs | {"bound": "lower"}, attrs | {"bound": "upper"}
        if grid is not None and res.grid is not None:
            g = res.grid["pm25"].values
            gshape = g.shape
            glo, ghi = self.table.bounds(g.reshape(len(times), -1), near[:, n_s:], times)
            for var, arr, bound in (("pm25_lo", glo, "lower"), ("pm25_hi", ghi, "upper")):
                res.grid[var] = (("time", "lat", "lon"), arr.reshape(gshape).astype("float32"),
                                 {"units": "ug m-3", "long_name": f"PM2.5 {bound} bound ({self.level:.0%} interval)",
                                  "level": self.level})
            res.grid.attrs["interval_level"] = self.level
        res.extras["interval"] = {"kind": "split conformal on validation days", "level": self.level}
        return res
