"""Tiny StationSets for tests: n stations × T hours of given values, valid under the StationSet contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.stationset import make_stationset


def tiny_stationset(
    values: np.ndarray | Mapping[str, np.ndarray],
    lat: Sequence[float] | None = None,
    lon: Sequence[float] | None = None,
    *,
    start: str = "2019-01-01",
    codes: Sequence[str] | None = None,
    city: str | Sequence[str] = "北京",
    is_bth: bool | Sequence[bool] = True,
    **kwargs: Any,
) -> xr.Dataset:
    """A StationSet from ``values``: a (T, n) PM2.5 array, or ``{variable: (T, n) array}`` with ``pm25``.

    Hourly from ``start``; codes ``1001A, 1002A, …`` unless ``codes`` are given; stations on a meridian
    0.1° apart northwards from 39.0 °N, 116.0 °E unless ``lat`` / ``lon`` are given; one ``city`` and
    ``is_bth`` for every station, or one per station. Other keywords (``name``, ``attrs``, ``present``,
    ``warnings``) go to :func:`core.contracts.stationset.make_stationset`.
    """
    data = dict(values) if isinstance(values, Mapping) else {"pm25": values}
    n_t, n = np.shape(data["pm25"])
    t = pd.date_range(start, periods=n_t, freq="h")
    lat = 39.0 + 0.1 * np.arange(n) if lat is None else lat
    lon = np.full(n, 116.0) if lon is None else lon
    codes = [f"{1001 + i}A" for i in range(n)] if codes is None else codes
    city = [city] * n if isinstance(city, str) else city
    is_bth = [is_bth] * n if isinstance(is_bth, bool) else is_bth
    return make_stationset(t, codes, lat, lon, data, city=city, is_bth=is_bth, **kwargs)


def smooth_stationset(n: int, days: int, seed: int, *, start: str = "2019-01-01", code_prefix: str = "S",
                      city: str = "北京", five_day_amplitude: float = 0.0) -> xr.Dataset:
    """``n`` stations at random places in 38.5–40 °N, 115.5–117 °E, ``days`` × 24 hours of a smooth PM2.5
    field (µg/m³): a regional daily cycle (plus a 5-day one of ``five_day_amplitude``) × a west–east gradient,
    plus noise, at least 1. Codes ``{code_prefix}{seed}{i:03d}``, so two seeds give two different networks."""
    rng = np.random.default_rng(seed)
    lat, lon = 38.5 + rng.uniform(0, 1.5, n), 115.5 + rng.uniform(0, 1.5, n)
    h = np.arange(days * 24)
    regional = 60 + 30 * np.sin(2 * np.pi * h / 24)
    if five_day_amplitude:
        regional = regional + five_day_amplitude * np.sin(2 * np.pi * h / (24 * 5))
    field = regional[:, None] * (1 + 0.4 * (lon - 116)[None, :]) + rng.normal(0, 2, (len(h), n))
    codes = [f"{code_prefix}{seed}{i:03d}" for i in range(n)]
    return tiny_stationset(np.clip(field, 1, None), lat, lon, start=start, codes=codes, city=city)


def city_population_grid() -> xr.DataArray:
    """0.1° population grid over 39.0–40.0 N, 116.0–117.0 E: 1,000 people per cell, a city of 1e6 at one cell
    (39.75 N, 116.25 E) and one cell without data (39.05 N, 116.05 E)."""
    lat = np.round(np.arange(39.05, 40.0, 0.1), 3)
    lon = np.round(np.arange(116.05, 117.0, 0.1), 3)
    vals = np.full((len(lat), len(lon)), 1000.0)
    vals[7, 2] = 1e6
    vals[0, 0] = np.nan
    return xr.DataArray(vals, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
