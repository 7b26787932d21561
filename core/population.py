"""People per place from the 0.1° population grid: at points, and on any regular lon/lat grid."""

from __future__ import annotations

import numpy as np
import xarray as xr


def _edges_index(centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the cell (regular ascending ``centres``) containing each of ``values``; -1 outside."""
    c = np.asarray(centres, float)
    step = float(c[1] - c[0]) if len(c) > 1 else 1.0
    idx = np.floor((np.asarray(values, float) - (c[0] - step / 2)) / step + 1e-9).astype(int)
    return np.where((idx >= 0) & (idx < len(c)), idx, -1)


def point_population(lat: np.ndarray, lon: np.ndarray, pop: xr.DataArray) -> np.ndarray:
    """Persons in the population-grid cell containing each point ``(n,)``; 0 outside the grid or where NaN."""
    i = _edges_index(pop["lat"].values, lat)
    j = _edges_index(pop["lon"].values, lon)
    ok = (i >= 0) & (j >= 0)
    out = np.zeros(len(np.atleast_1d(lat)))
    vals = pop.values[i[ok], j[ok]]
    out[ok] = np.where(np.isfinite(vals), vals, 0.0)
    return out


def grid_population(lat: np.ndarray, lon: np.ndarray, pop: xr.DataArray) -> np.ndarray:
    """Persons living in each cell of a regular grid (cell centres ``lat``, ``lon``) → ``(lat, lon)``.

    Coarser than the population grid: population cells are summed into the cell holding their centre.
    Finer: each cell gets its population cell's people × the ratio of cell areas (uniform inside).
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    res = float(lat[1] - lat[0]) if len(lat) > 1 else 0.1
    pres = float(pop["lat"].values[1] - pop["lat"].values[0])
    if res >= pres - 1e-9:
        pla, plo = np.meshgrid(pop["lat"].values, pop["lon"].values, indexing="ij")
        i, j = _edges_index(lat, pla.ravel()), _edges_index(lon, plo.ravel())
        v = np.nan_to_num(pop.values.ravel())
        ok = (i >= 0) & (j >= 0)
        out = np.zeros((len(lat), len(lon)))
        np.add.at(out, (i[ok], j[ok]), v[ok])
        return out
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return point_population(la.ravel(), lo.ravel(), pop).reshape(la.shape) * (res / pres) ** 2
