"""Terrain elevation of any point from an offline global grid (no network).

Source: ``pvlib/data/Altitude.h5`` shipped in the ``pvlib`` wheel (read by
``pvlib.location.lookup_altitude``): a global 1/12° grid (2160 × 4320, rows from 90° N, columns
from 180° W) aggregated by Mapzen (Terrain Tiles / tilezen joerd) from SRTM, GMTED2010 and ETOPO1
(courtesy of the U.S. Geological Survey and NOAA) and national DEMs. Values are uint8 codes in 28 m
steps from −450 m (255 = no data, returned as 0 m, as pvlib does). pvlib warns that downsampling
gives errors of 100 m or more: it is a coarse terrain descriptor, not a survey height.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import DataNotFound

CELLS_PER_DEG = 12
STEP_M, OFFSET_M, NODATA = 28.0, -450.0, 255
CITATION = ("pvlib Altitude.h5 (pvlib/data, read like pvlib.location.lookup_altitude): global 1/12° "
            "elevation grid aggregated by Mapzen Terrain Tiles from SRTM, GMTED2010 and ETOPO1 (USGS, NOAA); "
            "28 m steps, errors of 100 m or more")


def altitude_file() -> Path:
    """Path of ``Altitude.h5`` inside the installed pvlib package."""
    try:
        import pvlib
    except ImportError as exc:  # pragma: no cover - pvlib is in requirements.txt
        raise DataNotFound("Terrain needs the pvlib package (it ships data/Altitude.h5): "
                           "pip install -r requirements.txt") from exc
    path = Path(pvlib.__file__).parent / "data" / "Altitude.h5"
    if not path.is_file():
        raise DataNotFound(f"{path} is missing: reinstall pvlib (pip install --force-reinstall pvlib).")
    return path


@lru_cache(maxsize=1)
def _grid() -> np.ndarray:
    import h5py

    with h5py.File(altitude_file(), "r") as f:
        return f["Altitude"][()]  # (2160, 4320) uint8, 9 MB


def elevation_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Elevation (m above sea level, float32) of points ``lat, lon`` (degrees, any equal shapes).

    Nearest 1/12° cell; no-data cells and non-finite coordinates give 0 m.
    """
    lat, lon = np.broadcast_arrays(np.asarray(lat, float), np.asarray(lon, float))
    ok = np.isfinite(lat) & np.isfinite(lon)
    grid = _grid()
    row = np.clip(np.floor((90.0 - np.where(ok, lat, 0.0)) * CELLS_PER_DEG), 0, grid.shape[0] - 1).astype(int)
    col = np.clip(np.floor((np.where(ok, lon, 0.0) + 180.0) * CELLS_PER_DEG), 0, grid.shape[1] - 1).astype(int)
    code = grid[row, col]
    alt = code.astype("float32") * STEP_M + OFFSET_M
    return np.where(ok & (code != NODATA), alt, 0.0).astype("float32")
