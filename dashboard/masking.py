"""Ways to choose hidden stations in the masking lab (pure functions of station metadata)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from core.geo import haversine_km


def pool(ds: xr.Dataset) -> np.ndarray:
    """Codes that random masking draws from: BTH stations (all stations if none is BTH), sorted.

    Stations whose coordinates lie outside their listed BTH city (``coord_mismatch``) are not BTH here.
    """
    codes = ds["station"].values.astype(str)
    bth = ds["is_bth"].values.astype(bool)
    if "coord_mismatch" in ds.coords:
        bth &= ~ds["coord_mismatch"].values.astype(bool)
    return np.sort(codes[bth] if bth.any() else codes)


def random_share(ds: xr.Dataset, share: float, seed: int) -> list[str]:
    """``share`` (0–1) of the pool, drawn with ``numpy.random.default_rng(seed)``."""
    p = pool(ds)
    n = int(round(min(max(share, 0.0), 1.0) * len(p)))
    return sorted(np.random.default_rng(seed).choice(p, size=n, replace=False).tolist()) if n else []


def by_city(ds: xr.Dataset, cities: Iterable[str]) -> list[str]:
    """Every station of the given cities."""
    sel = np.isin(ds["city"].values.astype(str), list(cities))
    return sorted(ds["station"].values.astype(str)[sel].tolist())


def isolate(ds: xr.Dataset, code: str, radius_km: float) -> list[str]:
    """``code`` and every station within ``radius_km`` of it (great-circle distance)."""
    codes = ds["station"].values.astype(str)
    i = int(np.flatnonzero(codes == code)[0])
    lat, lon = ds["lat"].values, ds["lon"].values
    d = haversine_km(lat[[i]], lon[[i]], lat, lon)[0]
    return sorted(set(codes[d <= radius_km].tolist()) | {code})


def toggle(pending: Iterable[str], code: str) -> list[str]:
    """``pending`` with ``code`` added if absent, removed if present."""
    s = set(pending)
    s.symmetric_difference_update({code})
    return sorted(s)
