"""Sites for a day on a simulated surface: districts, spacing, clear errors for bad days."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.contracts.stationset import active_stations
from core.data.synthetic import SimConfig, simulate
from core.engine.models import get_model
from core.errors import InvalidRequest
from core.geo import haversine_km
from core.siting.run import sites_for_day


@pytest.fixture(scope="module")
def sim() -> xr.Dataset:
    return active_stations(simulate(SimConfig.small(start="2019-01-11", n_hours=48)).stations)


@pytest.fixture(scope="module")
def pop() -> xr.DataArray:
    lat = np.round(np.arange(36.05, 42.7, 0.1), 3)
    lon = np.round(np.arange(113.45, 119.9, 0.1), 3)
    return xr.DataArray(np.full((len(lat), len(lon)), 5000.0), dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


@pytest.mark.parametrize("n", [1, 4])
def test_sites_for_day(sim, pop, n):
    # the uncalibrated model: no interval, so the distance proxy (its exact greedy update is checked below)
    table, kind, surface = sites_for_day(sim, get_model("idw", calibrated=False), "2019-01-12", n, res=0.2, pop=pop)
    assert kind == "distance_to_nearest_monitor" and len(table) == n
    assert surface.sizes["time"] == 24
    d = haversine_km(table["lat"].values, table["lon"].values, sim["lat"].values, sim["lon"].values).min(axis=1)
    assert np.allclose(np.maximum(d, 1.0), table["nearest_monitor_km"].values, atol=1e-6)
    # equal people everywhere: the first site is the candidate farthest from every monitor
    assert table["nearest_monitor_km"].iloc[0] == pytest.approx(table["nearest_monitor_km"].max())


@pytest.mark.parametrize(("date", "match"), [("2018-05-01", "outside the data"), ("12/01/2019x", "must look like")])
def test_bad_day_is_a_clear_error(sim, pop, date, match):
    with pytest.raises(InvalidRequest, match=match):
        sites_for_day(sim, get_model("idw"), date, 3, pop=pop)


def test_no_station_left_is_a_clear_error(sim, pop):
    with pytest.raises(InvalidRequest, match="No observed station"):
        sites_for_day(sim, get_model("idw"), "2019-01-12", 3, observed=np.zeros(sim.sizes["station"], bool), pop=pop)


def test_sites_use_the_interval_when_the_model_gives_one(sim, pop):
    model = get_model("idw")
    if not hasattr(model, "add_intervals"):
        pytest.skip("no shipped interval calibration for idw")
    table, kind, surface = sites_for_day(sim, model, "2019-01-12", 3, res=0.2, pop=pop)
    assert kind == "interval_width" and {"pm25_lo", "pm25_hi"} <= set(surface)
    assert (table["uncertainty"] > 0).all() and len(table) == 3

    table_d, kind_d, _ = sites_for_day(sim, model, "2019-01-12", 3, res=0.2, pop=pop, use_interval=False)
    assert kind_d == "distance_to_nearest_monitor"
