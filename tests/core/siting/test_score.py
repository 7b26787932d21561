"""Siting score: population on any grid, uncertainty kind, greedy with spacing and the nearest-monitor update."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.contracts.grid import GridSpec
from core.errors import InvalidRequest
from core.geo import haversine_km
from core.siting.score import (
    DISTANCE,
    INTERVAL,
    greedy_sites,
    nearest_km,
    rank_sites,
    surface_uncertainty,
)
from tests.factories import city_population_grid


@pytest.fixture
def pop() -> xr.DataArray:
    return city_population_grid()


def _surface(res: float, lo_hi: bool) -> xr.Dataset:
    g = GridSpec.from_bbox((116.0, 39.0, 117.0, 40.0), res=res)
    shape = (2, *g.shape)
    ds = xr.Dataset({"pm25": (("time", "lat", "lon"), np.full(shape, 50.0))},
                    coords={"time": np.arange(2), "lat": g.lat, "lon": g.lon})
    if lo_hi:
        ds["pm25_lo"] = ds["pm25"] - 10
        ds["pm25_hi"] = ds["pm25"] + 10 + ds["lon"] - 116  # wider to the east
    return ds


@pytest.mark.parametrize(("lo_hi", "kind"), [(True, INTERVAL), (False, DISTANCE)])
def test_uncertainty_kind_follows_the_surface(lo_hi, kind):
    surf = _surface(0.1, lo_hi)
    unc, got = surface_uncertainty(surf, np.array([39.55]), np.array([116.55]))
    assert got == kind and unc.shape == (10, 10)
    if kind == INTERVAL:
        assert unc[0, -1] > unc[0, 0]  # wider to the east
    else:
        assert unc[5, 5] == pytest.approx(1.0)  # the monitor's own cell: clamped to 1 km
        assert unc[0, 0] > 50


def test_greedy_respects_spacing_and_updates_nearest_distance():
    # three candidates on a line, 5 km and 40 km from the first; equal people, far from any monitor
    lat = np.array([39.0, 39.045, 39.36])
    lon = np.array([116.0, 116.0, 116.0])
    near = np.array([100.0, 100.0, 100.0])
    people = np.array([10.0, 9.0, 1.0])
    picks = greedy_sites(near * people, lat, lon, near, n=3, min_spacing_km=20)
    assert [p.index for p in picks] == [0, 2]  # candidate 1 is within 20 km of candidate 0
    d02 = haversine_km(lat[:1], lon[:1], lat[2:], lon[2:])[0, 0]
    assert picks[1].score == pytest.approx(people[2] * d02)  # distance proxy: people × new nearest distance


def test_greedy_needs_n_at_least_one():
    with pytest.raises(InvalidRequest, match="--n"):
        greedy_sites(np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), n=0)


def test_nearest_needs_a_monitor():
    with pytest.raises(InvalidRequest, match="No observed monitor"):
        nearest_km(np.zeros(2), np.zeros(2), np.zeros(0), np.zeros(0))


@pytest.mark.parametrize("lo_hi", [True, False])
def test_rank_sites_prefers_people_far_from_monitors(pop, lo_hi):
    surf = _surface(0.1, lo_hi)
    district = np.full((10, 10), "A 区", dtype=object)
    district[:, 0] = ""  # the westmost column is outside every district
    table, kind = rank_sites(surf, np.array([39.05]), np.array([116.95]), pop, n=3, district=district)
    assert kind == (INTERVAL if lo_hi else DISTANCE)
    assert len(table) == 3 and (table["district"] == "A 区").all()
    assert (table["lon"] > 116.1).all()
    first = table.iloc[0]
    assert (first["lat"], first["lon"]) == pytest.approx((39.75, 116.25))  # the city wins by people
    assert table["score"].is_monotonic_decreasing
    d = haversine_km(table["lat"].values, table["lon"].values, table["lat"].values, table["lon"].values)
    assert d[np.triu_indices(3, 1)].min() >= 20
