"""StationSet → tensors: the one batch layout every neural model reads.

:func:`prepare` turns a StationSet into :class:`NodeData` (numpy, full time axis, nodes =
stations with coordinates). :func:`make_batch` cuts windows out of it and returns a dict of
tensors (``B`` windows, ``L`` hours, ``N`` station nodes, ``M`` extra target points such as
grid cells, ``P`` auxiliary pollutants, ``S`` static features, ``k`` sources per target):

=================  ===============  =====================================================================
key                shape            meaning
=================  ===============  =====================================================================
``x``              (B, L, N)        PM2.5 as ``log1p(µg/m³) - center`` where observed, else 0
``mask``           (B, L, N)        1.0 where ``x`` holds an observed value (input side), else 0
``init``           (B, L, N)        IDW (power 2) estimate from observed nodes, same normalised log scale;
                                    observed nodes carry their own value
``aux``            (B, L, N, P)     ``log1p`` of PM10, NO2, SO2, O3, CO (÷ AUX_SCALE) where observed, else 0
``tfeat``          (B, L, 4)        sin/cos of hour of day and day of year
``tweek``          (B, L, 2)        sin/cos of day of week (Monday = 0)
``static``         (N, S)           emission proxies at the node (population density, see below)
``elev``           (N,)             terrain elevation km a.s.l. (:mod:`core.data.terrain`, pvlib Altitude.h5)
``dist``           (N, N)           great-circle km ``[target, source]``
``bearing``        (N, N)           rad, source→target (see :mod:`core.graph`)
``center``         (B, L)           per-hour regional offset: mean ``log1p`` PM2.5 over observed nodes
``wind``           (B, L, N, 2)     measured (u, v) m/s at nodes — only when the data has ``u10, v10``
``y``              (B, L, N)        truth, µg/m³ (0 where unknown) — training/validation only
``y_mask``         (B, L, N)        1.0 where ``y`` is known
``loss_mask``      (B, L, N)        1.0 where the loss is taken (hidden ∧ known ∧ trainable), set by the trainer
``aod``/``aod_mask`` (B, L, N)      AOD sampled at nodes and its validity — only with an AODSource
``tgt_*``                           extra targets (grid cells), receive-only: ``tgt_idx, tgt_valid, tgt_dist,
                                    tgt_bearing`` (M, k) sources; ``tgt_static`` (M, S); ``tgt_elev`` (M,) km;
                                    ``tgt_init`` (B, L, M)
=================  ===============  =====================================================================

Models return µg/m³: ``pred`` (B, L, N) [+ ``init_pred`` (B, L, N), ``grid_pred`` (B, L, M)];
:func:`to_ugm3` converts from the normalised log scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch
import xarray as xr

from core.data.population import read_population_table
from core.data.terrain import elevation_m
from core.errors import AirAtlasError
from core.geo import within_reach_box
from core.graph import Geometry, idw_weights, knn_sources, knn_sum

AUX_VARS = ("pm10", "no2", "so2", "o3", "co")
AUX_SCALE = 5.0  # log1p values of pollutants are ~0–7; keep inputs O(1)
STATIC_FEATURES = ("log_pop_cell", "log_pop_3x3", "pop_known")
N_TIME_FEATURES = 4
FALLBACK_CENTER = 3.5  # log1p(~32 µg/m³): offset for an hour with no observation at all


@dataclass
class NodeData:
    """A StationSet as arrays (full time axis ``T``, nodes ``N`` = stations with coordinates).

    ``pm25`` (T, N) µg/m³ NaN=missing; ``aux`` (T, N, P); ``wind`` (T, N, 2) or None;
    ``static`` (N, S); ``geom`` (N, N); ``tfeat`` (T, 4); ``station_index`` (N,) positions in the source set;
    ``elev`` (N,) terrain elevation km.
    """

    times: np.ndarray
    codes: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    is_bth: np.ndarray
    pm25: np.ndarray
    aux: np.ndarray
    wind: np.ndarray | None
    static: np.ndarray
    geom: Geometry
    tfeat: np.ndarray
    station_index: np.ndarray
    elev: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.codes)


def time_features(times: np.ndarray) -> np.ndarray:
    """Cyclic time ``(T, 4)``: sin/cos of hour-of-day and of day-of-year (float32)."""
    t = pd.DatetimeIndex(times)
    hour = 2 * np.pi * t.hour.values / 24.0
    doy = 2 * np.pi * (t.day_of_year.values - 1) / 365.25
    return np.stack([np.sin(hour), np.cos(hour), np.sin(doy), np.cos(doy)], axis=1).astype("float32")


def weekday_features(times: np.ndarray) -> np.ndarray:
    """Cyclic day of week ``(…, 2)``: sin/cos, Monday = 0 (float32); shape of ``times`` plus one axis."""
    days = np.asarray(times, "datetime64[D]").astype("int64")
    ang = 2 * np.pi * ((days + 3) % 7) / 7.0  # 1970-01-01 was a Thursday
    return np.stack([np.sin(ang), np.cos(ang)], axis=-1).astype("float32")


@lru_cache(maxsize=1)
def _pop_grid() -> tuple[np.ndarray, float, float, float] | None:
    """Population per 0.1° cell as a 2-D array (lat, lon) with origin, or None without geo data."""
    try:
        df = read_population_table(year=2015)
    except (AirAtlasError, OSError):  # no geo layers or an unreadable file: static features degrade to "unknown"
        return None
    res = 0.1
    lon0, lat0 = df["lon_center"].min(), df["lat_center"].min()
    ix = np.round((df["lon_center"].values - lon0) / res).astype(int)
    iy = np.round((df["lat_center"].values - lat0) / res).astype(int)
    arr = np.full((iy.max() + 1, ix.max() + 1), np.nan, dtype="float64")
    arr[iy, ix] = df["pop_2015"].values
    return arr, float(lat0), float(lon0), res


def static_features(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Emission proxies ``(n, 3)`` at points: log population of the 0.1° cell, of its 3×3 block, known flag.

    Population is persons per ~10 km cell (2015). Points outside the grid, or no geo data at all,
    get zeros with ``pop_known = 0`` so the network can tell "unknown" from "empty".
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    out = np.zeros((len(lat), len(STATIC_FEATURES)), dtype="float32")
    grid = _pop_grid()
    if grid is None:
        return out
    arr, lat0, lon0, res = grid
    finite = np.isfinite(lat) & np.isfinite(lon)  # a station without coordinates: no cell (and no NaN cast)
    iy = np.round((np.where(finite, lat, lat0) - lat0) / res).astype(int)
    ix = np.round((np.where(finite, lon, lon0) - lon0) / res).astype(int)
    ny, nx = arr.shape
    inside = (iy >= 0) & (iy < ny) & (ix >= 0) & (ix < nx) & finite
    padded = np.pad(arr, 1, constant_values=np.nan)
    for n in np.flatnonzero(inside):
        cell = arr[iy[n], ix[n]]
        block = padded[iy[n]:iy[n] + 3, ix[n]:ix[n] + 3]
        if not np.isfinite(cell):
            continue
        out[n, 0] = np.log1p(cell) / 10.0
        out[n, 1] = np.log1p(np.nanmean(block)) / 10.0
        out[n, 2] = 1.0
    return out


def prepare(ds: xr.Dataset) -> NodeData:
    """Arrays for a StationSet; stations without coordinates are dropped (``station_index`` maps back)."""
    lat, lon = ds["lat"].values.astype(float), ds["lon"].values.astype(float)
    keep = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    sub = ds.isel(station=keep)
    n_t, n_s = sub.sizes["time"], sub.sizes["station"]
    aux = np.full((n_t, n_s, len(AUX_VARS)), np.nan, dtype="float32")
    for p, var in enumerate(AUX_VARS):
        if var in sub:
            aux[:, :, p] = sub[var].values
    wind = None
    if "u10" in sub and "v10" in sub:
        wind = np.stack([sub["u10"].values, sub["v10"].values], axis=-1).astype("float32")
    geom, static, elev = _node_geometry(lat[keep].tobytes(), lon[keep].tobytes())
    return NodeData(
        times=sub["time"].values,
        codes=sub["station"].values.astype(str),
        lat=lat[keep], lon=lon[keep],
        is_bth=sub["is_bth"].values.astype(bool),
        pm25=sub["pm25"].values.astype("float32"),
        aux=aux, wind=wind,
        static=static, geom=geom,
        tfeat=time_features(sub["time"].values),
        station_index=keep,
        elev=elev,
    )


@lru_cache(maxsize=8)
def _node_geometry(lat_bytes: bytes, lon_bytes: bytes) -> tuple[Geometry, np.ndarray, np.ndarray]:
    """Pairwise geometry, emission proxies and elevation (km) of a station network, by its coordinates.

    Depends on the coordinates only, so a network seen before (every window of a run, every dashboard
    rerun) reuses it; the arrays are read-only so a cached copy cannot be changed by a caller.
    """
    lat, lon = np.frombuffer(lat_bytes, dtype=float), np.frombuffer(lon_bytes, dtype=float)
    geom = Geometry.among(lat, lon)
    static, elev = static_features(lat, lon), elevation_m(lat, lon) / 1000.0
    for arr in (geom.dist_km, geom.bearing, static, elev):
        arr.setflags(write=False)
    return geom, static, elev


def to_ugm3(z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Normalised log scale ``(B, L, ·)`` + ``center`` ``(B, L)`` → µg/m³ (≥ 0)."""
    return torch.expm1((z + center.unsqueeze(-1)).clamp(max=8.0)).clamp_min(0.0)


def _idw_from(values: torch.Tensor, mask: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """IDW of ``values`` (B, L, N) µg/m³ observed where ``mask``; ``w`` (M, N) → (B, L, M). NaN if no source."""
    num = torch.einsum("mn,bln->blm", w, values * mask)
    den = torch.einsum("mn,bln->blm", w, mask)
    return torch.where(den > 0, num / den.clamp_min(1e-12), torch.full_like(num, float("nan")))


@dataclass(frozen=True)
class TargetPoints:
    """Receive-only targets (e.g. grid cells) at ``lat, lon`` (M,), with their k nearest station sources."""

    lat: np.ndarray
    lon: np.ndarray
    idx: np.ndarray
    valid: np.ndarray
    dist: np.ndarray
    bearing: np.ndarray
    static: np.ndarray
    elev: np.ndarray | None = None

    @classmethod
    def build(cls, lat: np.ndarray, lon: np.ndarray, nodes: NodeData, k: int = 12,
              threshold_km: float = 200.0) -> TargetPoints:
        # Only sources that can be valid (within threshold_km of some target) take part: a tile of a national
        # grid measures distances to its neighbourhood, not to every station. Invalid places are padded with
        # the first of them; models weight them by ``valid`` (0), so the tile's values equal the whole grid's.
        near = np.flatnonzero(within_reach_box(nodes.lat, nodes.lon, lat, lon, threshold_km))
        geom = Geometry.between(lat, lon, nodes.lat[near], nodes.lon[near])
        sub, valid = knn_sources(geom.dist_km, k, threshold_km, stable_ties=True)
        dist, bearing = np.take_along_axis(geom.dist_km, sub, 1), np.take_along_axis(geom.bearing, sub, 1)
        k_eff = min(k, nodes.n_nodes)
        idx = np.zeros((len(lat), k_eff), "int64")
        out = np.zeros((len(lat), k_eff), bool)
        dk = np.full((len(lat), k_eff), threshold_km + 1.0, "float32")
        bk = np.zeros((len(lat), k_eff), "float32")
        m = sub.shape[1]
        idx[:, :m], out[:, :m], dk[:, :m], bk[:, :m] = near[sub], valid, dist, bearing
        # canonical invalid places: whatever stations lie beyond the threshold, they read the same
        idx[~out] = idx[:, :1].repeat(k_eff, 1)[~out] if m else 0
        dk[~out], bk[~out] = threshold_km + 1.0, 0.0
        return cls(np.asarray(lat), np.asarray(lon), idx, out, dk, bk,
                   static_features(lat, lon), elevation_m(lat, lon) / 1000.0)


def make_batch(nodes: NodeData, starts: np.ndarray, length: int, observed: np.ndarray,
               targets: TargetPoints | None = None, aod: np.ndarray | None = None,
               device: torch.device | str = "cpu", with_truth: bool = True) -> dict[str, torch.Tensor]:
    """Batch of ``B = len(starts)`` windows of ``length`` hours (see module docstring for keys).

    ``observed``: bool (B, L, N) — which node values the model may read (hidden stations False).
    ``aod``: optional (T, N) AOD at nodes (NaN under clouds) over the full time axis.
    """
    starts = np.asarray(starts, dtype=int)
    sl = starts[:, None] + np.arange(length)[None, :]  # (B, L)
    dev = torch.device(device)
    pm = torch.from_numpy(nodes.pm25[sl]).to(dev)  # (B, L, N)
    obs = torch.from_numpy(np.asarray(observed, bool)).to(dev) & torch.isfinite(pm)
    mask = obs.float()
    logv = torch.log1p(torch.nan_to_num(pm, nan=0.0).clamp_min(0.0))
    n_obs = mask.sum(-1)
    center = torch.where(n_obs > 0, (logv * mask).sum(-1) / n_obs.clamp_min(1), torch.full_like(n_obs, FALLBACK_CENTER))
    x = (logv - center.unsqueeze(-1)) * mask
    raw = torch.nan_to_num(pm, nan=0.0).clamp_min(0.0)
    dist = torch.from_numpy(nodes.geom.dist_km.copy()).to(dev)  # cached read-only geometry: a tensor of its own
    w = idw_weights(dist) * (dist > 1e-6).float()
    idw = _idw_from(raw, mask, w)
    idw_log = torch.log1p(torch.nan_to_num(idw, nan=0.0)) - center.unsqueeze(-1)
    idw_log = torch.where(torch.isnan(idw), torch.zeros_like(idw_log), idw_log)
    init = torch.where(obs, x, idw_log)
    aux = torch.from_numpy(nodes.aux[sl]).to(dev)
    aux = torch.log1p(torch.nan_to_num(aux, nan=0.0).clamp_min(0.0)) / AUX_SCALE * mask.unsqueeze(-1)
    batch = {
        "x": x, "mask": mask, "init": init, "aux": aux,
        "tfeat": torch.from_numpy(nodes.tfeat[sl]).to(dev),
        "tweek": torch.from_numpy(weekday_features(nodes.times[sl])).to(dev),
        "static": torch.from_numpy(nodes.static.copy()).to(dev),
        "dist": dist, "bearing": torch.from_numpy(nodes.geom.bearing.copy()).to(dev),
        "center": center,
    }
    if nodes.elev is not None:
        batch["elev"] = torch.from_numpy(np.array(nodes.elev, "float32")).to(dev)
    if nodes.wind is not None:
        batch["wind"] = torch.nan_to_num(torch.from_numpy(nodes.wind[sl]).to(dev), nan=0.0)
    if with_truth:
        batch["y"] = raw
        batch["y_mask"] = torch.isfinite(pm).float()
    if aod is not None:
        a = torch.from_numpy(np.asarray(aod, "float32")[sl]).to(dev)
        batch["aod_mask"] = torch.isfinite(a).float()
        batch["aod"] = torch.nan_to_num(a, nan=0.0)
    if targets is not None:
        batch.update(target_tensors(targets, raw, mask, center, dev))
    return batch


def target_batch(nodes: NodeData, starts: np.ndarray, length: int, batch: dict[str, torch.Tensor],
                 targets: TargetPoints, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """The ``tgt_*`` keys :func:`make_batch` would add for ``targets`` to a station ``batch`` made without them
    (same windows): one station batch serves several target sets (the tiles of a map)."""
    sl = np.asarray(starts, dtype=int)[:, None] + np.arange(length)[None, :]
    dev = torch.device(device)
    raw = torch.nan_to_num(torch.from_numpy(nodes.pm25[sl]).to(dev), nan=0.0).clamp_min(0.0)
    return target_tensors(targets, raw, batch["mask"], batch["center"], dev)


def target_tensors(targets: TargetPoints, raw: torch.Tensor, mask: torch.Tensor, center: torch.Tensor,
                   dev: torch.device) -> dict[str, torch.Tensor]:
    """``tgt_*`` keys: k-nearest source layout and the IDW initial estimate at each target (B, L, M)."""
    idx = torch.from_numpy(targets.idx).to(dev)
    valid = torch.from_numpy(targets.valid).to(dev)
    dist = torch.from_numpy(targets.dist).to(dev)
    w = idw_weights(dist) * valid.float()  # (M, k)
    if torch.is_grad_enabled():
        v_src, m_src = raw[..., idx], mask[..., idx]  # (B, L, M, k)
        den = (w * m_src).sum(-1)
        num = (w * m_src * v_src).sum(-1)
    else:  # same sums as sparse (M × N) products: a map has millions of (hour, cell, source) triples
        both = knn_sum(w, idx, torch.stack([mask, raw * mask]))
        den, num = both[0], both[1]
    idw = num / den.clamp_min(1e-12)
    init = torch.where(den > 0, torch.log1p(idw) - center.unsqueeze(-1), torch.zeros_like(idw))
    out = {"tgt_idx": idx, "tgt_valid": valid, "tgt_dist": dist,
           "tgt_bearing": torch.from_numpy(targets.bearing).to(dev),
           "tgt_static": torch.from_numpy(targets.static).to(dev), "tgt_init": init}
    if targets.elev is not None:
        out["tgt_elev"] = torch.from_numpy(np.asarray(targets.elev, "float32")).to(dev)
    return out
