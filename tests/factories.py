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
