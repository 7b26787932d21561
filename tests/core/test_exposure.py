"""Exposure analytics: overlaps, population weighting, thresholds, disparity, clear errors."""

from __future__ import annotations

import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from core.contracts.grid import GridSpec
from core.contracts.kriger import grid_dataset
from core.errors import UnusableData
from core.exposure import ExposureWarning, pop_weighted_mean, population_above, summarize, unit_exposure
from core.exposure_census import (
    BTH_POPULATION_2020,
    join_census,
    load_census_units,
    vulnerability_indicators,
)
from core.exposure_disparity import concentration_index, fractional_rank, quantile_means, quintile_ratio
from core.exposure_weights import cell_weights, load_population_grid

# A 2 × 4 grid of 0.5° cells over lon 116–118, lat 39–40 (inside BTH, where the equal-area projection is centred).
LAT = np.array([39.25, 39.75])
LON = np.array([116.25, 116.75, 117.25, 117.75])


def _table(codes, pop, age65p, **extra) -> pd.DataFrame:
    n = len(codes)
    base = {"CODE": codes, "NAME": [f"unit{c}" for c in codes], "POPU": pop, "AGES_65P": age65p,
            "AGES_0-14": [0.2] * n, "EDUC_LITR": [0.02] * n, "POPU_URB": [0.5] * n, "HOUS_SAMP_WATR": [0.9] * n}
    return pd.DataFrame(base | extra)


def _units(boxes, pop, age65p, crs="EPSG:4326") -> gpd.GeoDataFrame:
    codes = [str(100 + i) for i in range(len(boxes))]
    g = gpd.GeoDataFrame({"CODE": codes}, geometry=[shapely.box(*b) for b in boxes], crs="EPSG:4326").to_crs(crs)
    return g, _table(codes, pop, age65p)


def _surface(field: np.ndarray, hours: int = 48, lo_hi: bool = False) -> xr.Dataset:
    """Constant-in-time surface (time, lat, lon) from a (lat, lon) field, hourly from 2019-01-01 00:00."""
    times = pd.date_range("2019-01-01", periods=hours, freq="h").values
    pm = np.broadcast_to(field, (hours, *field.shape)).astype(float)
    grid = GridSpec(lat=LAT, lon=LON)
    return grid_dataset(times, grid, pm, lo=pm * 0.5 if lo_hi else None, hi=pm * 2 if lo_hi else None)


@pytest.fixture
def two_zones() -> gpd.GeoDataFrame:
    """West unit (1,000 people, 10 % aged 65+) and east unit (3,000 people, 30 % aged 65+), 1° squares."""
    g, t = _units([(116, 39, 117, 40), (117, 39, 118, 40)], [1000.0, 3000.0], [0.1, 0.3])
    return join_census(g, t)


WEST_EAST = np.array([[10.0, 10.0, 40.0, 40.0]] * 2)  # µg/m³: 10 in the west half, 40 in the east half


@pytest.mark.parametrize("population", ["uniform", "grid"])
def test_two_zones_hand_computed(two_zones, population):
    pop = None
    if population == "grid":  # people only in one cell of each unit: same answer, the field is flat per unit
        pop = xr.DataArray([[5.0, 0.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0]], dims=("lat", "lon"),
                           coords={"lat": LAT, "lon": LON})
    res = unit_exposure(_surface(WEST_EAST), two_zones, pop)
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


def test_partial_cells_are_area_weighted():
    g, t = _units([(116, 39, 117.25, 40)], [500.0], [0.1])
    res = unit_exposure(_surface(WEST_EAST), join_census(g, t))
    # two full western cell columns at 10 and half an eastern one at 40 (equal areas within a lat band)
    assert res.table["pm25"].iloc[0] == pytest.approx((2 * 10 + 0.5 * 40) / 2.5, rel=1e-5)


def test_population_grid_moves_weight_inside_unit():
    g, t = _units([(116, 39, 118, 40)], [100.0], [0.1])
    pop = xr.DataArray([[0.0, 0.0, 0.0, 9.0], [0.0, 0.0, 0.0, 0.0]], dims=("lat", "lon"),
                       coords={"lat": LAT, "lon": LON})
    units = join_census(g, t)
    assert unit_exposure(_surface(WEST_EAST), units, pop).table["pm25"].iloc[0] == pytest.approx(40.0)
    assert unit_exposure(_surface(WEST_EAST), units, None).table["pm25"].iloc[0] == pytest.approx(25.0, rel=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_surface_gives_same_exposure_and_zero_ci(seed):
    rng = np.random.default_rng(seed)
    boxes = [(116 + 0.5 * i, 39 + 0.5 * j, 116.5 + 0.5 * i, 39.5 + 0.5 * j) for i in range(4) for j in range(2)]
    g, t = _units(boxes, rng.integers(100, 10_000, len(boxes)).astype(float), rng.uniform(0.05, 0.3, len(boxes)))
    res = unit_exposure(_surface(np.full((2, 4), 37.0)), join_census(g, t))
    np.testing.assert_allclose(res.table["pm25"], 37.0)
    d = summarize(res, n_boot=100, seed=seed)["disparity"]
    for rec in d.values():
        assert rec["concentration_index"] == pytest.approx(0.0, abs=1e-12)
        assert rec["ratio"] == pytest.approx(1.0)
        assert rec["interval"] == pytest.approx([0.0, 0.0], abs=1e-12)


def test_bounds_propagate(two_zones):
    res = unit_exposure(_surface(WEST_EAST, lo_hi=True), two_zones)
    s = summarize(res, n_boot=20)
    assert s["pop_weighted_pm25_lo"] == pytest.approx(32.5 / 2) and s["pop_weighted_pm25_hi"] == pytest.approx(65)
    # a multiplicative bound leaves the ratio and the CI unchanged
    assert s["disparity"]["age65p"]["lo"]["ratio"] == pytest.approx(4.0)
    assert s["disparity"]["age65p"]["hi"]["concentration_index"] == pytest.approx(2 * 2.8125 / 32.5)
    assert s["above_lo"]["WHO2021_24h_15"]["people"] == pytest.approx(3000)  # 20 > 15 still
    assert s["above_hi"]["GB3095_II_24h_75"]["people"] == pytest.approx(3000)  # 80 > 75


def test_short_days_are_invalid(two_zones):
    with pytest.warns(ExposureWarning, match="fewer than 20 valid hours"):
        res = unit_exposure(_surface(WEST_EAST, hours=24 + 10), two_zones)  # day 2 has 10 hours < 20
    assert res.table["valid_days"].tolist() == [1, 1]
    assert population_above(res)["WHO2021_24h_15"]["days"] == 1
    assert any("1 day(s) have fewer than 20 valid hours" in w for w in res.warnings)


def test_crs_mismatch_is_a_clear_error():
    g, t = _units([(116, 39, 117, 40)], [1.0], [0.1], crs="EPSG:3857")
    with pytest.raises(UnusableData, match=r"CRS mismatch.*EPSG:3857.*EPSG:4326.*to_crs"):
        join_census(g, t)
    with pytest.raises(UnusableData, match="no CRS"):
        join_census(g.set_crs(None, allow_override=True), t)


def test_surface_in_another_crs_is_refused(two_zones):
    surf = _surface(WEST_EAST)
    surf.attrs["crs"] = "EPSG:4490"  # CGCS2000 lon/lat: close to WGS84 but not the same datum
    with pytest.raises(UnusableData, match=r"CRS mismatch.*EPSG:4326.*EPSG:4490"):
        unit_exposure(surf, two_zones)


def test_census_table_without_needed_fields():
    g, t = _units([(116, 39, 117, 40)], [1.0], [0.1])
    with pytest.raises(UnusableData, match="lacks the fields HOUS_SAMP_WATR"):
        join_census(g, t.drop(columns="HOUS_SAMP_WATR"))


def test_units_missing_from_census_table_are_named():
    g, t = _units([(116, 39, 117, 40), (117, 39, 118, 40), (116, 39.5, 117, 40)], [1.0, 2.0, 3.0], [0.1] * 3)
    with pytest.raises(UnusableData, match=r"2 census unit\(s\).*101, 102"):
        join_census(g, t.iloc[:1])


def test_unit_outside_grid_warns_and_is_left_out():
    g, t = _units([(116, 39, 117, 40), (120, 30, 121, 31)], [1000.0, 5000.0], [0.1, 0.2])
    with pytest.warns(ExposureWarning, match=r"1 census unit\(s\) lie outside the grid.*101"):
        res = unit_exposure(_surface(WEST_EAST), join_census(g, t))
    s = summarize(res, n_boot=10)
    assert s["units"] == 2 and s["units_with_exposure"] == 1
    assert s["population_total"] == 1000 and s["population_census_total"] == 6000
    assert not res.table["covered"].iloc[1]


def test_bad_surface_is_rejected(two_zones):
    bad = _surface(WEST_EAST).transpose("time", "lon", "lat")
    with pytest.raises(UnusableData, match=r"expected \(time, lat, lon\)"):
        unit_exposure(bad, two_zones)


@pytest.mark.parametrize(("v", "w", "want"), [
    ([1, 2, 3], [1, 1, 2], [0.125, 0.375, 0.75]),
    ([1, 1, 3], [1, 1, 2], [0.25, 0.25, 0.75]),  # ties share a rank
])
def test_fractional_rank(v, w, want):
    np.testing.assert_allclose(fractional_rank(np.array(v, float), np.array(w, float)), want)


def test_disparity_signs_and_quintiles():
    v = np.linspace(0, 1, 10)
    w = np.ones(10)
    assert concentration_index(v * 10 + 1, v, w) > 0 > concentration_index(11 - v * 10, v, w)
    m = quantile_means(np.arange(10.0) + 1, v, w)
    np.testing.assert_allclose(m, [1.5, 3.5, 5.5, 7.5, 9.5])
    assert quintile_ratio(np.arange(10.0) + 1, v, w) == pytest.approx(9.5 / 1.5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 500), st.floats(0, 1), st.floats(1, 1e6)), min_size=2, max_size=30),
       st.floats(0.1, 10))
def test_concentration_index_bounds_and_scale_invariance(rows, scale):
    h, v, w = (np.array(c) for c in zip(*rows, strict=True))
    ci = concentration_index(h, v, w)
    assert -1 < ci < 1
    assert concentration_index(h * scale, v, w) == pytest.approx(ci, abs=1e-9)
    # ranking by the same indicator with weights doubled changes nothing
    assert concentration_index(h, v, 2 * w) == pytest.approx(ci, abs=1e-9)


def test_vulnerability_indicators_are_shares(two_zones):
    vul = vulnerability_indicators(two_zones)
    assert vul["rural"].tolist() == [0.5, 0.5]
    assert vul["no_tap_water"].tolist() == pytest.approx([0.1, 0.1])


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
