"""Grid cells → census units: exact area overlaps, population-weighted within each unit.

Each surface cell (a lon/lat rectangle) is intersected with each unit polygon in lon/lat
(cells are exact rectangles there); every piece is intersected again with the 0.1° population
grid, and its area is measured in a local Albers equal-area projection. A piece's weight is

    area(piece ∩ pop cell) [km²] × population density of that pop cell [persons/km²]

and the weights are normalised to 1 inside each unit. So the population grid only decides
*where inside a unit* people live; how many live there is always the census POPU. A unit
where the population grid has nobody (sea, nodata) falls back to area weights (uniform
density inside the unit) and says so in ``weighting``. ``population=None`` asks for uniform
density everywhere.

Overlaps are computed once per (grid, units, population) and cached in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from scipy import sparse

from core.errors import UnusableData

# Local Albers equal-area for BTH (standard parallels bracket 36–43° N): areas in m².
EQUAL_AREA = "+proj=aea +lat_0=39 +lon_0=116.5 +lat_1=37 +lat_2=41 +datum=WGS84 +units=m +no_defs"


@dataclass(frozen=True)
class CellWeights:
    """Sparse unit × cell weights over a grid (flat cell index = row-major (lat, lon)).

    - ``matrix``: CSR, shape (units, lat·lon), rows sum to 1 for covered units, 0 otherwise;
    - ``area_km2``: CSR, same pattern, km² of each unit in each cell;
    - ``covered``: bool (units,), the unit overlaps at least one grid cell;
    - ``coverage``: (units,) share of the unit's area inside the grid;
    - ``weighting``: (units,) "population grid" | "uniform" — how people were spread inside.
    """

    lat: np.ndarray
    lon: np.ndarray
    codes: np.ndarray
    matrix: sparse.csr_matrix
    area_km2: sparse.csr_matrix
    covered: np.ndarray
    coverage: np.ndarray
    weighting: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.lat), len(self.lon))

    def cell_population(self, population: np.ndarray) -> xr.DataArray:
        """People per grid cell (lat, lon) when unit ``u`` has ``population[u]`` people (covered units only)."""
        pop = np.where(self.covered, np.asarray(population, float), 0.0)
        cells = self.matrix.T @ pop
        return xr.DataArray(cells.reshape(self.shape), dims=("lat", "lon"),
                            coords={"lat": self.lat, "lon": self.lon}, name="population",
                            attrs={"units": "persons"})


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """Edges of cells with the given ascending, evenly spaced centres (n+1,)."""
    c = np.asarray(centres, float)
    if c.ndim != 1 or len(c) < 2:
        raise UnusableData("A grid surface needs at least 2 cells along lat and lon to be overlaid on census units.")
    step = np.diff(c)
    if (step <= 0).any() or not np.allclose(step, step[0], rtol=1e-3):
        raise UnusableData("Grid coordinates must be ascending and evenly spaced (a regular lon/lat grid).")
    d = step[0]
    return np.concatenate([c - d / 2, [c[-1] + d / 2]])


def cell_boxes(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Shapely boxes of every cell, row-major (lat, lon) order, shape (lat·lon,)."""
    ye, xe = cell_edges(lat), cell_edges(lon)
    y0, x0 = np.meshgrid(ye[:-1], xe[:-1], indexing="ij")
    y1, x1 = np.meshgrid(ye[1:], xe[1:], indexing="ij")
    return shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())


def _overlay(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-empty pieces a[i] ∩ b[j]: returns (i, j, piece geometries)."""
    tree = shapely.STRtree(b)
    ia, jb = tree.query(a, predicate="intersects")
    pieces = shapely.intersection(a[ia], b[jb])
    keep = shapely.area(pieces) > 0  # touching boundaries give empty or line pieces
    return ia[keep], jb[keep], pieces[keep]


def _areas_km2(geoms: np.ndarray) -> np.ndarray:
    if len(geoms) == 0:
        return np.zeros(0)
    # densify first: edges straight in lon/lat (parallels) are curves in the Albers plane
    dense = shapely.segmentize(geoms, max_segment_length=0.02)
    return gpd.GeoSeries(dense, crs="EPSG:4326").to_crs(EQUAL_AREA).area.to_numpy() / 1e6


def _key(lat, lon, units: gpd.GeoDataFrame, population: xr.DataArray | None) -> str:
    h = hashlib.sha256()
    for arr in (np.asarray(lat, float), np.asarray(lon, float)):
        h.update(arr.tobytes())
    h.update("|".join(units["CODE"].astype(str)).encode())
    h.update(b"".join(shapely.to_wkb(units.geometry.values)))
    if population is not None:
        h.update(np.nan_to_num(population.values).tobytes())
        h.update(population["lat"].values.tobytes() + population["lon"].values.tobytes())
    return h.hexdigest()


_CACHE: dict[str, CellWeights] = {}


def cell_weights(lat: np.ndarray, lon: np.ndarray, units: gpd.GeoDataFrame,
                 population: xr.DataArray | None = None) -> CellWeights:
    """Unit × cell weights for a regular lon/lat grid (cell centres ``lat``, ``lon``, degrees).

    ``units``: GeoDataFrame in EPSG:4326 with CODE; ``population``: persons per cell on any regular
    lon/lat grid (e.g. :func:`core.data.population.load_population_grid`), or None for uniform density inside units.
    Cached in memory per (grid, units, population).
    """
    key = _key(lat, lon, units, population)
    if key in _CACHE:
        return _CACHE[key]
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    n_units, n_cells = len(units), len(lat) * len(lon)
    geoms = shapely.make_valid(units.geometry.values)
    unit_area = _areas_km2(geoms)
    iu, ic, pieces = _overlay(geoms, cell_boxes(lat, lon))
    piece_area = _areas_km2(pieces)
    area = sparse.csr_matrix((piece_area, (iu, ic)), shape=(n_units, n_cells))
    weight_val = piece_area.copy()
    weighting = np.full(n_units, "uniform", dtype=object)
    if population is not None and len(pieces):
        pop = population.values.astype(float)
        pop_area = _areas_km2(cell_boxes(population["lat"].values, population["lon"].values))
        dens = np.where(np.isfinite(pop.ravel()) & (pop.ravel() > 0), pop.ravel() / np.maximum(pop_area, 1e-9), 0.0)
        ip, jp, sub = _overlay(pieces, cell_boxes(population["lat"].values, population["lon"].values))
        pw = np.bincount(ip, weights=_areas_km2(sub) * dens[jp], minlength=len(pieces))
        unit_pop = np.bincount(iu, weights=pw, minlength=n_units)
        use = unit_pop[iu] > 0  # units where the grid has people use it; others stay uniform
        weight_val = np.where(use, pw, piece_area)
        weighting[unit_pop > 0] = "population grid"
    w = sparse.csr_matrix((weight_val, (iu, ic)), shape=(n_units, n_cells))
    row = np.asarray(w.sum(axis=1)).ravel()
    covered = row > 0
    w = sparse.diags(np.where(covered, 1.0 / np.where(covered, row, 1.0), 0.0)) @ w
    coverage = np.asarray(area.sum(axis=1)).ravel() / np.maximum(unit_area, 1e-12)
    out = CellWeights(lat=lat, lon=lon, codes=units["CODE"].astype(str).to_numpy(), matrix=w.tocsr(),
                      area_km2=area, covered=covered, coverage=np.clip(coverage, 0, 1),
                      weighting=np.where(covered, weighting, "none").astype(str))
    _CACHE[key] = out
    return out
