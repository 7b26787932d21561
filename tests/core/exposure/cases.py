"""Small hand-checkable exposure cases: a 2 × 4 grid of 0.5° cells and square census units over it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import grid_dataset

# A 2 × 4 grid of 0.5° cells over lon 116–118, lat 39–40 (inside BTH, where the equal-area projection is centred).
LAT = np.array([39.25, 39.75])
LON = np.array([116.25, 116.75, 117.25, 117.75])


def make_table(codes, pop, age65p, **extra) -> pd.DataFrame:
    """Census indicator table: the given POPU and 65+ shares, the other indicators constant."""
    n = len(codes)
    base = {"CODE": codes, "NAME": [f"unit{c}" for c in codes], "POPU": pop, "AGES_65P": age65p,
            "AGES_0-14": [0.2] * n, "EDUC_LITR": [0.02] * n, "POPU_URB": [0.5] * n, "HOUS_SAMP_WATR": [0.9] * n}
    return pd.DataFrame(base | extra)


def make_units(boxes, pop, age65p, crs="EPSG:4326") -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Square units (lon/lat boxes, shown in ``crs``) and their census table, codes 100, 101, …"""
    codes = [str(100 + i) for i in range(len(boxes))]
    g = gpd.GeoDataFrame({"CODE": codes}, geometry=[shapely.box(*b) for b in boxes], crs="EPSG:4326").to_crs(crs)
    return g, make_table(codes, pop, age65p)


def make_surface(field: np.ndarray, hours: int = 48, lo_hi: bool = False) -> xr.Dataset:
    """Constant-in-time surface (time, lat, lon) from a (lat, lon) field, hourly from 2019-01-01 00:00."""
    times = pd.date_range("2019-01-01", periods=hours, freq="h").values
    pm = np.broadcast_to(field, (hours, *field.shape)).astype(float)
    grid = GridSpec(lat=LAT, lon=LON)
    return grid_dataset(times, grid, pm, lo=pm * 0.5 if lo_hi else None, hi=pm * 2 if lo_hi else None)


WEST_EAST = np.array([[10.0, 10.0, 40.0, 40.0]] * 2)  # µg/m³: 10 in the west half, 40 in the east half
