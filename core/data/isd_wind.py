"""Measured wind at arbitrary places from ISD-Lite stations: a :class:`~core.data.base.MetSource`.

At each hour, (u, v) at a target point is the inverse-distance-weighted mean (power ``power``) of
the ``k`` nearest ISD stations *that reported wind at that hour* within ``radius_km``; NaN when
none did. Components are averaged (not speed and direction), the usual choice for interpolating
vectors. Synoptic stations report every 3 h: with ``max_gap_hours`` ≥ 2 their u and v are first
interpolated linearly in time across gaps of at most that many hours (never extrapolated), so
the network is not reduced to the hourly airports between synoptic hours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.stationset import TZ
from core.errors import InvalidRequest, UnusableData
from core.geo import haversine_km

MIN_DISTANCE_KM = 0.01  # a target on top of a station takes that station's value


class IsdWind:
    """MetSource over an ISD StationSet (see :func:`core.data.isd.load_isd`)."""

    def __init__(self, stations: xr.Dataset, *, radius_km: float = 150.0, k: int = 4, power: float = 2.0,
                 max_gap_hours: int = 0) -> None:
        if "u10" not in stations or "v10" not in stations:
            raise UnusableData(f"{stations.attrs.get('source', 'dataset')} has no u10/v10: no measured wind.")
        if radius_km <= 0 or k < 1 or power <= 0 or max_gap_hours < 0:
            raise InvalidRequest("IsdWind needs radius_km > 0, k ≥ 1, power > 0 and max_gap_hours ≥ 0.")
        has_xy = np.isfinite(stations["lat"].values) & np.isfinite(stations["lon"].values)
        ds = stations.isel(station=np.flatnonzero(has_xy))
        self.radius_km, self.k, self.power = float(radius_km), int(k), float(power)
        self.time = pd.DatetimeIndex(ds["time"].values)
        self.lat = ds["lat"].values.astype("float64")
        self.lon = ds["lon"].values.astype("float64")
        self.station = ds["station"].values
        u = ds["u10"].values.astype("float64")
        v = ds["v10"].values.astype("float64")
        valid = np.isfinite(u) & np.isfinite(v)
        u, v = np.where(valid, u, np.nan), np.where(valid, v, np.nan)
        if max_gap_hours > 0:
            u, v = _fill_gaps(u, max_gap_hours), _fill_gaps(v, max_gap_hours)
        self.u, self.v = u, v  # (time, station) m/s

    @classmethod
    def from_folder(cls, path: str | Path, **kwargs) -> IsdWind:
        """Load an ISD-Lite folder (``isd_lite/`` + ``stations.csv``) and wrap it."""
        from core.data.isd import load_isd

        return cls(load_isd(Path(path)), **kwargs)

    @property
    def measured(self) -> bool:
        """True when at least one station reported wind at least once."""
        return bool(np.isfinite(self.u).any())

    def wind(self, times: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(u, v)`` m/s, each ``(time, point)`` float64, at Beijing-time ``times`` (hourly) and
        points ``lat``/``lon`` (``(point,)``); NaN where no station within ``radius_km`` reported.
        Returns ``None`` when the stations hold no wind at all. Times outside the station record give NaN.
        """
        if not self.measured:
            return None
        t = pd.DatetimeIndex(np.atleast_1d(times))
        if t.tz is not None:
            t = t.tz_convert(TZ).tz_localize(None)
        lat = np.atleast_1d(np.asarray(lat, dtype="float64"))
        lon = np.atleast_1d(np.asarray(lon, dtype="float64"))
        if lat.shape != lon.shape or lat.ndim != 1:
            raise InvalidRequest(f"lat and lon must be 1-D of equal length (got {lat.shape} and {lon.shape}).")
        dist = np.maximum(haversine_km(lat, lon, self.lat, self.lon), MIN_DISTANCE_KM)  # (point, station)
        near = dist <= self.radius_km
        out_u = np.full((len(t), len(lat)), np.nan)
        out_v = np.full((len(t), len(lat)), np.nan)
        rows = self.time.get_indexer(t)
        for i, r in enumerate(rows):
            if r < 0:
                continue
            ok = np.isfinite(self.u[r])
            if not ok.any():
                continue
            d = np.where(near & ok[None, :], dist, np.inf)  # (point, station)
            kk = min(self.k, d.shape[1])
            nearest = np.argpartition(d, kk - 1, axis=1)[:, :kk]  # (point, k)
            dn = np.take_along_axis(d, nearest, axis=1)
            w = np.where(np.isfinite(dn), dn ** -self.power, 0.0)
            wsum = w.sum(axis=1)
            has = wsum > 0
            ur = np.where(np.isfinite(dn), self.u[r][nearest], 0.0)
            vr = np.where(np.isfinite(dn), self.v[r][nearest], 0.0)
            out_u[i, has] = (w * ur).sum(axis=1)[has] / wsum[has]
            out_v[i, has] = (w * vr).sum(axis=1)[has] / wsum[has]
        return out_u, out_v


def _fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linear interpolation along time (axis 0) inside NaN runs of at most ``max_gap`` hours."""
    # pandas' `limit` would still fill the first hours of a long gap: blank long runs afterwards
    filled = pd.DataFrame(x).interpolate(method="linear", limit_area="inside", axis=0)
    out = np.array(filled.to_numpy(dtype="float64"))
    for j in range(x.shape[1]):
        col = np.isnan(x[:, j])
        if not col.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], col.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b - a > max_gap:
                out[a:b, j] = np.nan
    return out
