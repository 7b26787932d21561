"""Station and time splits: S_test, and the disjoint validation folds design choices are scored on."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.data.splits import select_test_stations, time_split, validation_folds


@pytest.fixture
def network() -> xr.Dataset:
    """40 BTH stations in 5 cities of unequal size (14, 10, 8, 5, 3) plus 6 outside BTH; one inactive."""
    sizes = {"北京市": 14, "天津市": 10, "石家庄市": 8, "唐山市": 5, "承德市": 3, "济南市": 6}
    city = np.repeat(list(sizes), list(sizes.values()))
    n = len(city)
    rng = np.random.default_rng(3)
    pm = rng.gamma(3.0, 20.0, (48, n))
    pm[:, 5] = np.nan  # inactive: no PM2.5 at all
    return xr.Dataset(
        {"pm25": (("time", "station"), pm)},
        coords={"time": np.arange("2019-01-01T00", "2019-01-03T00", dtype="datetime64[h]").astype("datetime64[ns]"),
                "station": [f"{1001 + i}A" for i in range(n)], "city": ("station", city),
                "is_bth": ("station", city != "济南市"),
                "lat": ("station", rng.uniform(36, 41, n)), "lon": ("station", rng.uniform(114, 119, n))})


def test_time_split_days_of_month() -> None:
    t = np.array(["2019-03-20T23", "2019-03-21T00", "2019-03-23T23", "2019-03-24T00"], dtype="datetime64[ns]")
    s = time_split(t)
    assert s["train"].tolist() == [True, False, False, False]
    assert s["val"].tolist() == [False, True, True, False]
    assert s["test"].tolist() == [False, False, False, True]


@pytest.mark.parametrize("n_folds", [1, 2, 4, 6])
def test_validation_folds_are_disjoint_cover_the_bth_pool_and_start_with_s_val(network, n_folds) -> None:
    view = network.isel(station=np.flatnonzero(~np.isin(network["station"], select_test_stations(network))))
    folds = validation_folds(view, n_folds)
    flat = [c for f in folds for c in f]
    assert folds[0] == select_test_stations(view)  # fold 0 is S_val: single-fold figures stay comparable
    assert len(flat) == len(set(flat))
    assert len(folds) == n_folds and all(folds)
    bth_active = view["station"].values[view["is_bth"].values & np.isfinite(view["pm25"].values).any(0)]
    if n_folds > 1:  # every active BTH station is a target in exactly one fold, and no other station is
        assert set(flat) == set(bth_active.astype(str))
        rest = [len(f) for f in folds[1:]]
        assert max(rest) - min(rest) <= 1
    assert not set(flat) & {"1006A"}  # the inactive station


def test_validation_folds_spread_over_cities(network) -> None:
    view = network.isel(station=np.flatnonzero(~np.isin(network["station"], select_test_stations(network))))
    folds = validation_folds(view, 3)
    city = dict(zip(view["station"].values.astype(str), view["city"].values.astype(str), strict=True))
    for f in folds[1:]:  # dealt city by city: the large cities reach every fold
        assert {"北京市", "天津市", "石家庄市"} <= {city[c] for c in f}


def test_validation_folds_are_fixed_by_the_seed(network) -> None:
    assert validation_folds(network, 4) == validation_folds(network.copy(deep=True), 4)
    assert validation_folds(network, 4, seed=1) != validation_folds(network, 4)


def test_validation_folds_refuse_zero_folds(network) -> None:
    with pytest.raises(ValueError, match="n_folds must be ≥ 1"):
        validation_folds(network, 0)
