"""Spatial tiles of a grid and the stations each tile reads (its halo).

A tile is a rectangle of whole cells. A model declares how far its prediction at a cell can
reach with the class attribute ``neighbourhood_km`` (float, km): the value at a cell depends
only on stations within that distance. A tile then reads the stations within that distance of
any of its cells, so tile edges get exactly the values of an untiled run. A model without the
attribute (or with None) may use every station — IDW, for instance, weights all of them — and
each of its tiles reads the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.contracts.grid import GridSpec
from core.geo import haversine_km

DEFAULT_TILE_CELLS = 100  # cells a side when --tile-deg is not given (1° at 0.01°, 10° at 0.1°)
HALO_MARGIN_KM = 1.0  # float slack on the model's own radius


@dataclass(frozen=True)
class Tile:
    """Cells ``[y0, y1) × [x0, x1)`` of the full grid (lat index, lon index)."""

    y0: int
    y1: int
    x0: int
    x1: int

    def grid(self, full: GridSpec) -> GridSpec:
        return GridSpec(lat=full.lat[self.y0:self.y1], lon=full.lon[self.x0:self.x1])


def tile_cells(res: float, tile_deg: float | None) -> int:
    """Cells per tile side: ``tile_deg / res`` rounded (at least 1); the default is DEFAULT_TILE_CELLS."""
    if tile_deg is None:
        return DEFAULT_TILE_CELLS
    return max(1, int(round(tile_deg / res)))


def tiles(shape: tuple[int, int], side: int) -> list[Tile]:
    """Row-major tiles of ``side`` cells covering a ``(ny, nx)`` grid (edge tiles may be smaller)."""
    ny, nx = shape
    return [Tile(y, min(y + side, ny), x, min(x + side, nx)) for y in range(0, ny, side) for x in range(0, nx, side)]


def neighbourhood_km(model: object) -> float | None:
    """The model's declared reach in km, or None (it may use every station)."""
    r = getattr(model, "neighbourhood_km", None)
    return None if r is None or not np.isfinite(r) else float(r)


def halo_stations(lat: np.ndarray, lon: np.ndarray, grid: GridSpec, radius_km: float | None,
                  batch: int = 4096) -> np.ndarray:
    """bool ``(station,)``: stations within ``radius_km`` (+ margin) of any cell of ``grid``.

    ``radius_km=None`` selects every station. Stations without coordinates are never selected
    (they cannot be graph nodes anyway).
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if radius_km is None:
        return np.ones(lat.shape, bool)
    glat, glon = grid.points()
    nearest = np.full(lat.shape, np.inf)
    idx = np.flatnonzero(ok)
    for a in range(0, len(glat), batch):
        d = haversine_km(lat[idx], lon[idx], glat[a:a + batch], glon[a:a + batch])  # (S_ok, cells)
        nearest[idx] = np.minimum(nearest[idx], d.min(axis=1))
    return ok & (nearest <= radius_km + HALO_MARGIN_KM)
