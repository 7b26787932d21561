"""Regular lat/lon grids: the target nodes of a surface."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BTH_BBOX = (113.4, 36.0, 119.9, 42.7)  # W, S, E, N in degrees (BTH districts' extent, rounded out)


@dataclass(frozen=True)
class GridSpec:
    """Cell centres of a regular grid; ``lat``/``lon`` are 1-D, degrees WGS84, ascending."""

    lat: np.ndarray
    lon: np.ndarray

    @classmethod
    def from_bbox(cls, bbox: tuple[float, float, float, float] = BTH_BBOX, res: float = 0.05) -> GridSpec:
        """Grid of ``res``-degree cells covering ``bbox = (W, S, E, N)``."""
        w, s, e, n = bbox
        if not (w < e and s < n) or res <= 0:
            raise ValueError(f"bad grid: bbox={bbox}, res={res}")
        lon = np.round(np.arange(w + res / 2, e, res), 6)
        lat = np.round(np.arange(s + res / 2, n, res), 6)
        return cls(lat=lat, lon=lon)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.lat), len(self.lon))

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Flattened ``(lat, lon)`` of every cell, row-major ``(lat, lon)`` order, shape (cells,)."""
        la, lo = np.meshgrid(self.lat, self.lon, indexing="ij")
        return la.ravel(), lo.ravel()

    def __hash__(self) -> int:
        return hash((self.lat.tobytes(), self.lon.tobytes()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GridSpec):
            return False
        return np.array_equal(self.lat, other.lat) and np.array_equal(self.lon, other.lon)
