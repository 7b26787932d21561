"""Exceedance days: 24-h means with the 20-hour rule, counts per limit, person-days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from core.errors import InvalidRequest
from core.exceedance import daily_means, exceedance_days, people_days


def _hourly(values_per_day: list[float], shape=(2, 3)) -> xr.DataArray:
    t = pd.date_range("2019-01-01", periods=24 * len(values_per_day), freq="h")
    v = np.repeat(np.asarray(values_per_day, float), 24)[:, None, None] * np.ones((1, *shape))
    return xr.DataArray(v, dims=("time", "lat", "lon"),
                        coords={"time": t, "lat": np.arange(shape[0]), "lon": np.arange(shape[1])})


def test_counts_days_above_each_limit():
    pm = _hourly([10, 20, 80, 100, 14])
    out = exceedance_days(pm)
    assert out.attrs["n_days"] == 5 and out.attrs["first_day"] == "2019-01-01"
    who, gb = out["days_above"].values
    assert (who == 3).all() and (gb == 2).all() and (out["valid_days"] == 5).all()


@pytest.mark.parametrize(("missing", "valid"), [(4, True), (5, False)])
def test_twenty_hour_rule(missing, valid):
    pm = _hourly([100])
    pm[:missing] = np.nan
    assert bool(np.isfinite(daily_means(pm).values).all()) is valid


def test_one_cell_differs_and_person_days():
    pm = _hourly([50, 50, 50])
    pm[:, 0, 0] = 90
    out = exceedance_days(pm)
    gb = out["days_above"].sel(limit=out["limit"].values[1]).values
    assert gb[0, 0] == 3 and gb.sum() == 3
    people = np.full((2, 3), 1000.0)
    people[1, 2] = np.nan
    assert people_days(gb, people) == 3000.0
    assert people_days(out["days_above"].values[0], people) == 3 * 5000.0


def test_empty_period_is_a_clear_error():
    with pytest.raises(InvalidRequest, match="No hours"):
        daily_means(_hourly([1]).isel(time=slice(0, 0)))
