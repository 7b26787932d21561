"""People per place: totals kept on coarser and finer grids, points read their containing cell."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.contracts.grid import GridSpec
from core.population import grid_population, point_population


@pytest.fixture
def pop() -> xr.DataArray:
    """0.1° population grid over 39.0–40.0 N, 116.0–117.0 E: 1,000 people per cell, a city of 1e6 at one cell."""
    lat = np.round(np.arange(39.05, 40.0, 0.1), 3)
    lon = np.round(np.arange(116.05, 117.0, 0.1), 3)
    vals = np.full((len(lat), len(lon)), 1000.0)
    vals[7, 2] = 1e6  # 39.75 N, 116.25 E
    vals[0, 0] = np.nan
    return xr.DataArray(vals, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


@pytest.mark.parametrize("res", [0.05, 0.1, 0.2, 0.25])
def test_grid_population_keeps_the_total(pop, res):
    g = GridSpec.from_bbox((116.0, 39.0, 117.0, 40.0), res=res)
    total = float(np.nansum(pop.values))
    assert grid_population(g.lat, g.lon, pop).sum() == pytest.approx(total, rel=1e-6)


def test_point_population_reads_the_containing_cell(pop):
    got = point_population(np.array([39.76, 39.01, 45.0]), np.array([116.21, 116.01, 116.5]), pop)
    assert got.tolist() == [1e6, 0.0, 0.0]  # the city; a NaN cell; outside the grid
