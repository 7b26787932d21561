"""Rank places for new monitors by expected benefit: uncertainty × people living there, greedy with spacing.

Uncertainty is the width of the model's 90 % interval (``pm25_hi − pm25_lo``, µg/m³, mean over the
hours) when the surface has one; otherwise a proxy that grows with it, the distance (km) to the
nearest observed monitor. Which one was used is returned as ``kind``.

Greedy: take the cell with the highest benefit; a monitor there brings the nearest monitor closer to
every other cell, so each cell's benefit is multiplied by ``min(1, d(cell, site) / d(cell, nearest))``
(for the distance proxy this is exact: its benefit becomes people × the new nearest distance); cells
closer than ``min_spacing_km`` to a chosen site are excluded. Repeat N times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from core.data.population import grid_population
from core.errors import InvalidRequest, UnusableData
from core.geo import haversine_km

INTERVAL = "interval_width"
DISTANCE = "distance_to_nearest_monitor"
SCORE_UNITS = {INTERVAL: "persons x ug m-3 (90% interval width)", DISTANCE: "persons x km (to nearest monitor)"}
DEFAULT_SPACING_KM = 20.0
MIN_DISTANCE_KM = 1.0  # a monitor's own cell: distances below this count as this (no division by 0)


def nearest_km(lat: np.ndarray, lon: np.ndarray, mon_lat: np.ndarray, mon_lon: np.ndarray) -> np.ndarray:
    """Distance (km) from each point ``(n,)`` to the nearest monitor ``(m,)``, at least MIN_DISTANCE_KM."""
    if len(mon_lat) == 0:
        raise InvalidRequest("No observed monitor: siting needs at least one station with data.")
    d = np.full(len(lat), np.inf)
    for s in range(0, len(lat), 4096):  # chunks keep the (n, m) matrix small
        d[s:s + 4096] = haversine_km(lat[s:s + 4096], lon[s:s + 4096], mon_lat, mon_lon).min(axis=1)
    return np.maximum(d, MIN_DISTANCE_KM)


def surface_uncertainty(surface: xr.Dataset, mon_lat: np.ndarray, mon_lon: np.ndarray,
                        use_interval: bool = True) -> tuple[np.ndarray, str]:
    """Per-cell uncertainty ``(lat, lon)`` and its kind: mean 90 % interval width (µg/m³) or distance (km).

    ``use_interval=False`` asks for the distance proxy even when the surface has an interval.
    """
    if use_interval and "pm25_lo" in surface and "pm25_hi" in surface:
        width = (surface["pm25_hi"] - surface["pm25_lo"])
        width = width.mean("time").values if "time" in width.dims else width.values
        if np.isfinite(width).any():
            return np.where(np.isfinite(width), np.maximum(width, 0.0), np.nan), INTERVAL
    la, lo = np.meshgrid(surface["lat"].values, surface["lon"].values, indexing="ij")
    return nearest_km(la.ravel(), lo.ravel(), mon_lat, mon_lon).reshape(la.shape), DISTANCE


@dataclass(frozen=True)
class Pick:
    """One chosen site: index into the candidates and its benefit at the time it was chosen."""

    index: int
    score: float


def greedy_sites(benefit: np.ndarray, lat: np.ndarray, lon: np.ndarray, nearest: np.ndarray, n: int,
                 min_spacing_km: float = DEFAULT_SPACING_KM) -> list[Pick]:
    """Greedy choice of up to ``n`` candidates ``(m,)`` by benefit (see module doc); fewer if none is left.

    ``nearest``: km from each candidate to the nearest existing monitor.
    """
    if n < 1:
        raise InvalidRequest(f"--n must be at least 1 (got {n}).")
    b = np.where(np.isfinite(benefit), np.asarray(benefit, float), -np.inf)
    d = np.maximum(np.asarray(nearest, float), MIN_DISTANCE_KM)
    picks: list[Pick] = []
    for _ in range(n):
        i = int(np.argmax(b))
        if not np.isfinite(b[i]) or b[i] <= 0:
            break
        picks.append(Pick(index=i, score=float(b[i])))
        dist = np.maximum(haversine_km(lat[i:i + 1], lon[i:i + 1], lat, lon)[0], 0.0)
        b = np.where(np.isfinite(b), b * np.minimum(1.0, dist / d), b)
        d = np.maximum(np.minimum(d, dist), MIN_DISTANCE_KM)
        b[dist < min_spacing_km] = -np.inf
    return picks


def rank_sites(surface: xr.Dataset, mon_lat: np.ndarray, mon_lon: np.ndarray, pop: xr.DataArray, n: int,
               district: np.ndarray | None = None, min_spacing_km: float = DEFAULT_SPACING_KM,
               use_interval: bool = True) -> tuple[pd.DataFrame, str]:
    """Top ``n`` grid cells for new monitors on ``surface`` (time, lat, lon) given observed monitors.

    ``district``: ``(lat, lon)`` labels; when given, only cells inside a district are candidates.
    Returns (table with rank, lon, lat, score, district, people, uncertainty, nearest_monitor_km; kind).
    """
    lat, lon = surface["lat"].values, surface["lon"].values
    unc, kind = surface_uncertainty(surface, np.asarray(mon_lat), np.asarray(mon_lon), use_interval)
    people = grid_population(lat, lon, pop)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    cand = np.isfinite(unc.ravel()) & (people.ravel() > 0)
    if district is not None:
        cand &= np.asarray(district).ravel() != ""
    if not cand.any():
        raise UnusableData("No candidate cell: the surface has no people or no finite values inside the districts.")
    c_lat, c_lon = la.ravel()[cand], lo.ravel()[cand]
    c_unc, c_people = unc.ravel()[cand], people.ravel()[cand]
    near = nearest_km(c_lat, c_lon, np.asarray(mon_lat), np.asarray(mon_lon))
    picks = greedy_sites(c_unc * c_people, c_lat, c_lon, near, n, min_spacing_km)
    idx = [p.index for p in picks]
    names = np.asarray(district).ravel()[cand][idx] if district is not None else np.full(len(idx), "")
    table = pd.DataFrame({
        "rank": np.arange(1, len(idx) + 1), "lon": c_lon[idx], "lat": c_lat[idx],
        "score": [p.score for p in picks], "district": names.astype(str),
        "people": c_people[idx], "uncertainty": c_unc[idx], "nearest_monitor_km": near[idx],
    })
    return table, kind
