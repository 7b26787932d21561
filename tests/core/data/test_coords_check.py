"""QC at load: station coordinates against their listed BTH city's boundary (core/data/coords_check.py)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from core.contracts.stationset import load_warnings
from core.data.coords_check import check_coordinates, mismatch_km
from core.data.load import load_stationset
from tests.factories import tiny_stationset

# Two square "cities" one degree wide; station C sits 1° (~111 km) south of its listed city.
SHAPES = {"北京": shapely.box(116.0, 39.5, 117.0, 40.5), "秦皇岛": shapely.box(119.0, 39.5, 120.0, 40.5)}


def _stations(lat, lon, city) -> object:
    n = len(lat)
    return tiny_stationset(np.ones((2, n)), lat, lon, codes=[f"S{i}" for i in range(n)], city=city,
                           name=[f"站{i}(启用171012)" for i in range(n)])


@pytest.mark.parametrize(("lat", "lon", "city", "flagged"), [
    (40.0, 116.5, "北京", False),  # inside
    (40.53, 116.5, "北京市", False),  # 3 km outside: within the tolerance ("市" suffix ignored)
    (38.5, 119.5, "秦皇岛", True),  # 111 km south of its city
    (30.0, 110.0, "武汉", False),  # a city without a boundary here: not checked
    (float("nan"), 116.5, "北京", False),  # no coordinates: not checked
])
def test_station_outside_its_city_is_flagged_and_warned(lat, lon, city, flagged) -> None:
    ds = check_coordinates(_stations([40.0, lat], [116.5, lon], ["北京", city]), shapes=SHAPES)
    assert ds["coord_mismatch"].values.tolist() == [False, flagged]
    assert ds["is_bth"].values.tolist() == [True, True]  # S_test is drawn from is_bth: left as listed
    msgs = [w.message for w in load_warnings(ds)]
    assert len(msgs) == int(flagged)
    if flagged:
        assert "S1" in msgs[0] and "111 km outside" in msgs[0] and "coord_mismatch" in msgs[0]


def test_distance_is_zero_inside_and_nan_when_unchecked() -> None:
    d = mismatch_km(_stations([40.0, 30.0], [116.5, 110.0], ["北京", "武汉"]), SHAPES)
    assert d[0] == 0.0 and np.isnan(d[1])


@pytest.mark.realdata
def test_real_cnemc_list_flags_3132A_only(shared_data, monkeypatch) -> None:
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    ds = load_stationset(dataset="cnemc_bth_2019")
    assert ds["station"].values[ds["coord_mismatch"].values].tolist() == ["3132A"]
    (w,) = [w for w in load_warnings(ds) if "coord_mismatch" in w.message]
    assert "秦皇岛" in w.message and "37.03°N 119.60°E" in w.message
