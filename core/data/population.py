"""The 0.1° population grid of BTH (persons per cell, 2005 and 2015): the one reader of its CSV, and people
at points or on any regular lon/lat grid.

Every consumer (the neural models' static features, exposure weights, siting, the synthetic simulator's
emissions) reads the grid through :func:`read_population_table`, which parses the file once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.errors import CorruptFile, DataNotFound
from core.paths import geo_dir

POP_LAYER = "pop_grid_0p1deg_bth"  # folder under <data>/geo
POP_FILE = "bth_pop_0p1deg_2005_2015.csv"
POP_CSV = f"{POP_LAYER}/{POP_FILE}"  # the file, relative to <data>/geo
POP_RES = 0.1  # cell size, degrees; cells centred on x.x5
POP_YEARS = (2005, 2015)


def population_csv() -> Path:
    """Path of the population grid CSV under ``<data>/geo`` (raises :class:`DataNotFound` without a data dir)."""
    return geo_dir() / POP_CSV


@lru_cache(maxsize=8)
def _read(path: str, stamp: tuple[int, int], col: str) -> pd.DataFrame:
    # ``stamp`` (mtime_ns, size) is part of the key so a rewritten file is read again
    try:
        df = pd.read_csv(path, usecols=["lon_center", "lat_center", col])
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}: cannot parse as CSV ({err}).") from err
    except ValueError as err:  # missing columns
        raise CorruptFile(f"{path}: expected columns lon_center, lat_center, {col} ({err}).") from err
    return df


def read_population_table(path: str | Path | None = None, year: int = 2015) -> pd.DataFrame:
    """Rows of the grid CSV as in the file: ``lon_center``, ``lat_center`` (cell centres, degrees) and
    ``pop_<year>`` (persons per cell). ``path`` defaults to :func:`population_csv`.

    Parsed once per (file, year) and process; each call returns a copy, so callers may change it freely.
    """
    path = Path(path) if path is not None else population_csv()
    if not path.is_file():
        raise DataNotFound(f"Population grid {path} not found (the 0.1° layer {POP_CSV} under <data>/geo).")
    st = path.stat()
    return _read(str(path), (st.st_mtime_ns, st.st_size), f"pop_{year}").copy()


def load_population_grid(root: Path | None = None, year: int = 2015) -> xr.DataArray:
    """The 0.1° population grid (persons per cell), dims (lat, lon) of cell centres; NaN where absent.

    ``root``: the layer's folder (default ``<data>/geo/{POP_LAYER}``).
    """
    path = (Path(root) if root is not None else geo_dir() / POP_LAYER) / POP_FILE
    col = f"pop_{year}"
    df = read_population_table(path, year)
    lat = np.round(df["lat_center"].to_numpy(), 3)
    lon = np.round(df["lon_center"].to_numpy(), 3)
    ulat, ulon = np.unique(lat), np.unique(lon)
    ulat = np.round(np.arange(ulat[0], ulat[-1] + POP_RES / 2, POP_RES), 3)
    ulon = np.round(np.arange(ulon[0], ulon[-1] + POP_RES / 2, POP_RES), 3)
    grid = np.full((len(ulat), len(ulon)), np.nan)
    grid[np.searchsorted(ulat, lat), np.searchsorted(ulon, lon)] = df[col].to_numpy(float)
    return xr.DataArray(grid, dims=("lat", "lon"), coords={"lat": ulat, "lon": ulon}, name="population",
                        attrs={"units": "persons per cell", "year": year, "source": str(path)})


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
