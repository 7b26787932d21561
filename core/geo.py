"""Great-circle geometry on the WGS84 sphere approximation (distances in km, bearings in radians)."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Pairwise distances (km) between points 1 ``(n,)`` and points 2 ``(m,)`` → ``(n, m)``."""
    return haversine_pairs_km(np.asarray(lat1, float)[:, None], np.asarray(lon1, float)[:, None],
                              np.asarray(lat2, float)[None, :], np.asarray(lon2, float)[None, :])


def haversine_pairs_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Distances (km) between points 1 and points 2 of broadcastable shapes, element by element (the same
    arithmetic as :func:`haversine_km`, so a gathered pair gives the bit-identical distance)."""
    p1, l1 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lon1, float))
    p2, l2 = np.radians(np.asarray(lat2, float)), np.radians(np.asarray(lon2, float))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def bearing_rad(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Initial bearing from each point 1 to each point 2, ``(n, m)``, radians clockwise from north."""
    p1, l1 = np.radians(np.asarray(lat1, float))[:, None], np.radians(np.asarray(lon1, float))[:, None]
    p2, l2 = np.radians(np.asarray(lat2, float))[None, :], np.radians(np.asarray(lon2, float))[None, :]
    dl = l2 - l1
    x = np.sin(dl) * np.cos(p2)
    y = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.arctan2(x, y)


def wind_to_uv(direction_deg: np.ndarray, speed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Meteorological wind (direction it blows *from*, degrees clockwise from north) → (u, v) m/s.

    u is eastward, v northward: a north wind (0°) blows toward the south, so v < 0.
    Calm (speed 0) is u = v = 0 whatever the direction says, even when it is missing (NaN).
    """
    rad = np.radians(np.asarray(direction_deg, float))
    speed = np.asarray(speed, float)
    u, v = -speed * np.sin(rad), -speed * np.cos(rad)
    calm = speed == 0
    return np.where(calm, 0.0, u), np.where(calm, 0.0, v)


def within_reach_box(lat: np.ndarray, lon: np.ndarray, tlat: np.ndarray, tlon: np.ndarray,
                     reach_km: float) -> np.ndarray:
    """bool ``(n,)``: points ``(lat, lon)`` inside a lat/lon box that holds every point within ``reach_km``
    (great circle) of some target ``(tlat, tlon)`` — a cheap superset for neighbour searches.

    Bounds from the haversine formula: ``|Δφ| ≤ d / R`` and ``sin(Δλ / 2) ≤ sin(d / 2R) / cos φ_max``
    (``φ_max`` the largest |latitude| the box reaches). Points without coordinates are never selected.
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    tlat, tlon = np.asarray(tlat, float), np.asarray(tlon, float)
    if not len(tlat):
        return np.zeros(lat.shape, bool)
    dlat = np.degrees(reach_km / EARTH_RADIUS_KM) * 1.000001 + 1e-9
    s, n = tlat.min() - dlat, tlat.max() + dlat
    inside = ok & (lat >= s) & (lat <= n)
    phi = np.radians(min(90.0, max(abs(s), abs(n))))
    ratio = np.sin(reach_km / (2 * EARTH_RADIUS_KM)) / max(np.cos(phi), 1e-12)
    w, e = tlon.min(), tlon.max()
    if ratio >= 1.0:
        return inside
    dlon = np.degrees(2 * np.arcsin(ratio)) * 1.000001 + 1e-9
    if w - dlon < -180 or e + dlon > 180:  # the box would wrap the antimeridian: keep every longitude
        return inside
    return inside & (lon >= w - dlon) & (lon <= e + dlon)
