"""The exposure run's two halves (model → surface, surface → units), shared by the CLI and the dashboard."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import core.exposure.run as run
from core.contracts.kriger import Window
from core.contracts.stationset import active_stations
from core.data.synthetic import SimConfig, simulate
from core.engine.models import get_model
from core.errors import InvalidRequest
from core.exposure import ExposureWarning, infer_surface, join_census, run_exposure, surface_exposure, unit_exposure
from tests.core.exposure.cases import LAT, LON, WEST_EAST, make_surface, make_units


@pytest.fixture
def people() -> xr.DataArray:
    """People in one cell of each unit of ``two_zones``."""
    return xr.DataArray([[5.0, 0.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0]], dims=("lat", "lon"),
                        coords={"lat": LAT, "lon": LON})


@pytest.mark.parametrize("population", ["grid", "uniform"])
def test_surface_exposure_is_unit_exposure_with_the_chosen_weighting(two_zones, people, population):
    surface = make_surface(WEST_EAST)
    got = surface_exposure(surface, population, units=two_zones, population_grid=people)
    want = unit_exposure(surface, two_zones, people if population == "grid" else None)
    pd.testing.assert_frame_equal(got.table, want.table)
    assert got.table["weighting"].eq("population grid" if population == "grid" else "uniform").all()


def test_surface_exposure_returns_warnings_instead_of_emitting_them():
    g, t = make_units([(116, 39, 117, 40), (120, 30, 121, 31)], [1000.0, 5000.0], [0.1, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExposureWarning)
        res = surface_exposure(make_surface(WEST_EAST), "uniform", units=join_census(g, t))
    assert any("outside the grid" in w for w in res.warnings)


def test_an_unknown_weighting_is_refused_before_any_inference(two_zones, monkeypatch):
    monkeypatch.setattr(run, "model_surface", lambda *a, **k: pytest.fail("inferred before validating"))
    with pytest.raises(InvalidRequest, match="population must be 'grid' or 'uniform'"):
        run_exposure("idw", "2019-01-01", "2019-01-02", population="people")
    with pytest.raises(InvalidRequest, match="population must be 'grid' or 'uniform'"):
        surface_exposure(make_surface(WEST_EAST), "people", units=two_zones)


def test_infer_surface_names_the_model_and_covers_the_window():
    stations = active_stations(simulate(SimConfig.small(n_hours=24, spinup_hours=6)).stations)
    t = stations["time"].values
    surface = infer_surface(get_model("idw", calibrated=False), stations, np.ones(stations.sizes["station"], bool),
                            Window.of(t[0], t[5]), res=0.5, model="idw")
    assert surface["pm25"].dims == ("time", "lat", "lon") and surface.sizes["time"] == 6
    assert surface.attrs["model"] == "idw" and "wind" in surface.attrs
    assert np.isfinite(surface["pm25"].values).all()
