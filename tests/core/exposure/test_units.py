"""Surface → census units: period means, thresholds, summary, clear errors."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import grid_dataset
from core.data.population import load_population_grid
from core.errors import UnusableData
from core.exposure import (
    BTH_POPULATION_2020,
    ExposureWarning,
    cell_weights,
    join_census,
    load_census_units,
    pop_weighted_mean,
    population_above,
    summarize,
    unit_exposure,
)
from tests.core.exposure.cases import LAT, LON, WEST_EAST, make_surface, make_units


@pytest.mark.parametrize("population", ["uniform", "grid"])
def test_two_zones_hand_computed(two_zones, population):
    pop = None
    if population == "grid":  # people only in one cell of each unit: same answer, the field is flat per unit
        pop = xr.DataArray([[5.0, 0.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0]], dims=("lat", "lon"),
                           coords={"lat": LAT, "lon": LON})
    res = unit_exposure(make_surface(WEST_EAST), two_zones, pop)
    np.testing.assert_allclose(res.table["pm25"], [10.0, 40.0])
    assert pop_weighted_mean(res.table) == pytest.approx((1000 * 10 + 3000 * 40) / 4000)  # 32.5
    # ranks by 65+: west 0.125, east 0.625; cov_w = 2.8125; CI = 2·2.8125/32.5
    s = summarize(res, n_boot=50, seed=1)
    assert s["disparity"]["age65p"]["concentration_index"] == pytest.approx(2 * 2.8125 / 32.5)
    assert s["disparity"]["age65p"]["ratio"] == pytest.approx(4.0)  # Q5 all east (40) / Q1 all west (10)
    above = s["above"]
    assert above["WHO2021_24h_15"]["people"] == pytest.approx(3000) and above["WHO2021_24h_15"]["share"] == 0.75
    assert above["WHO2021_24h_15"]["person_days"] == pytest.approx(6000)  # 2 days × 3,000 people
    assert above["GB3095_II_24h_75"]["people"] == 0
    assert above["WHO2021_annual_5"]["people"] == pytest.approx(4000)
    assert above["GB3095_II_annual_35"]["people"] == pytest.approx(3000)
    assert s["population_total"] == 4000 and s["units"] == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_surface_gives_same_exposure_and_zero_ci(seed):
    rng = np.random.default_rng(seed)
    boxes = [(116 + 0.5 * i, 39 + 0.5 * j, 116.5 + 0.5 * i, 39.5 + 0.5 * j) for i in range(4) for j in range(2)]
    g, t = make_units(boxes, rng.integers(100, 10_000, len(boxes)).astype(float), rng.uniform(0.05, 0.3, len(boxes)))
    res = unit_exposure(make_surface(np.full((2, 4), 37.0)), join_census(g, t))
    np.testing.assert_allclose(res.table["pm25"], 37.0)
    d = summarize(res, n_boot=100, seed=seed)["disparity"]
    for rec in d.values():
        assert rec["concentration_index"] == pytest.approx(0.0, abs=1e-12)
        assert rec["ratio"] == pytest.approx(1.0)
        assert rec["interval"] == pytest.approx([0.0, 0.0], abs=1e-12)


def test_bounds_propagate(two_zones):
    res = unit_exposure(make_surface(WEST_EAST, lo_hi=True), two_zones)
    s = summarize(res, n_boot=20)
    assert s["pop_weighted_pm25_lo"] == pytest.approx(32.5 / 2) and s["pop_weighted_pm25_hi"] == pytest.approx(65)
    # a multiplicative bound leaves the ratio and the CI unchanged
    assert s["disparity"]["age65p"]["lo"]["ratio"] == pytest.approx(4.0)
    assert s["disparity"]["age65p"]["hi"]["concentration_index"] == pytest.approx(2 * 2.8125 / 32.5)
    assert s["above_lo"]["WHO2021_24h_15"]["people"] == pytest.approx(3000)  # 20 > 15 still
    assert s["above_hi"]["GB3095_II_24h_75"]["people"] == pytest.approx(3000)  # 80 > 75


def test_short_days_are_invalid(two_zones):
    with pytest.warns(ExposureWarning, match="fewer than 20 valid hours"):
        res = unit_exposure(make_surface(WEST_EAST, hours=24 + 10), two_zones)  # day 2 has 10 hours < 20
    assert res.table["valid_days"].tolist() == [1, 1]
    assert population_above(res)["WHO2021_24h_15"]["days"] == 1
    assert any("1 day(s) have fewer than 20 valid hours" in w for w in res.warnings)


def test_surface_in_another_crs_is_refused(two_zones):
    surf = make_surface(WEST_EAST)
    surf.attrs["crs"] = "EPSG:4490"  # CGCS2000 lon/lat: close to WGS84 but not the same datum
    with pytest.raises(UnusableData, match=r"CRS mismatch.*EPSG:4326.*EPSG:4490"):
        unit_exposure(surf, two_zones)


def test_unit_outside_grid_warns_and_is_left_out():
    g, t = make_units([(116, 39, 117, 40), (120, 30, 121, 31)], [1000.0, 5000.0], [0.1, 0.2])
    with pytest.warns(ExposureWarning, match=r"1 census unit\(s\) lie outside the grid.*101"):
        res = unit_exposure(make_surface(WEST_EAST), join_census(g, t))
    s = summarize(res, n_boot=10)
    assert s["units"] == 2 and s["units_with_exposure"] == 1
    assert s["population_total"] == 1000 and s["population_census_total"] == 6000
    assert not res.table["covered"].iloc[1]


def test_bad_surface_is_rejected(two_zones):
    bad = make_surface(WEST_EAST).transpose("time", "lon", "lat")
    with pytest.raises(UnusableData, match=r"expected \(time, lat, lon\)"):
        unit_exposure(bad, two_zones)


@pytest.mark.realdata
def test_real_census_units_and_population_total(shared_data):
    units = load_census_units(shared_data / "geo" / "census2020_county_tudigong")
    assert len(units) == 222
    zones = units["CODE"].str.fullmatch(r"\d{4}7\d")
    assert zones.sum() == 23  # development zones kept
    pop = load_population_grid(shared_data / "geo" / "pop_grid_0p1deg_bth")
    grid = GridSpec.from_bbox(res=0.1)
    w = cell_weights(grid.lat, grid.lon, units, pop)
    assert w.covered.all() and (w.weighting == "population grid").all()
    gridded = float(w.cell_population(units["POPU"].to_numpy()).sum())
    assert abs(gridded - BTH_POPULATION_2020) / BTH_POPULATION_2020 < 0.005
    times = pd.date_range("2019-01-01", periods=24, freq="h").values
    surf = grid_dataset(times, grid, np.full((24, *grid.shape), 50.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExposureWarning)  # every unit is inside the BTH grid
        res = unit_exposure(surf, units, pop)
    s = summarize(res, n_boot=10)
    assert abs(s["population_total"] - BTH_POPULATION_2020) / BTH_POPULATION_2020 < 0.005
    np.testing.assert_allclose(res.table["pm25"], 50.0, rtol=1e-6)
    assert all(re.search("NBS|National Bureau", v) for k, v in s["sources"].items() if k == "census")
