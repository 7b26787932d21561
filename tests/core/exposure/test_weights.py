"""Grid cells → units: exact area overlaps, population weighting inside a unit."""

from __future__ import annotations

import pytest
import xarray as xr

from core.exposure import join_census, unit_exposure
from tests.core.exposure.cases import LAT, LON, WEST_EAST, make_surface, make_units


def test_partial_cells_are_area_weighted():
    g, t = make_units([(116, 39, 117.25, 40)], [500.0], [0.1])
    res = unit_exposure(make_surface(WEST_EAST), join_census(g, t))
    # two full western cell columns at 10 and half an eastern one at 40 (equal areas within a lat band)
    assert res.table["pm25"].iloc[0] == pytest.approx((2 * 10 + 0.5 * 40) / 2.5, rel=1e-5)


def test_population_grid_moves_weight_inside_unit():
    g, t = make_units([(116, 39, 118, 40)], [100.0], [0.1])
    pop = xr.DataArray([[0.0, 0.0, 0.0, 9.0], [0.0, 0.0, 0.0, 0.0]], dims=("lat", "lon"),
                       coords={"lat": LAT, "lon": LON})
    units = join_census(g, t)
    assert unit_exposure(make_surface(WEST_EAST), units, pop).table["pm25"].iloc[0] == pytest.approx(40.0)
    assert unit_exposure(make_surface(WEST_EAST), units, None).table["pm25"].iloc[0] == pytest.approx(25.0, rel=1e-3)
