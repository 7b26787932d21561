"""Ways to pick hidden stations (dashboard/masking.py) on a small StationSet made here."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dashboard import masking
from tests.factories import tiny_stationset


@pytest.fixture
def ds() -> xr.Dataset:
    # 6 BTH stations along a meridian 0.1° (~11 km) apart, plus 2 outside BTH.
    lat = [39.0, 39.1, 39.2, 39.3, 39.4, 39.5, 36.0, 36.1]
    codes = [f"S{i}" for i in range(8)]
    city = ["北京", "北京", "北京", "天津", "天津", "天津", "聊城", "聊城"]
    return tiny_stationset(np.ones((3, 8)), lat, [116.0] * 8, codes=codes, city=city,
                           is_bth=[True] * 6 + [False] * 2)


@pytest.mark.parametrize(("share", "n"), [(0.5, 3), (0.1, 1), (0.9, 5), (1.0, 6), (0.0, 0)])
def test_random_share_draws_from_bth_only(ds: xr.Dataset, share: float, n: int) -> None:
    hidden = masking.random_share(ds, share, seed=1)
    assert len(hidden) == n and set(hidden) <= {f"S{i}" for i in range(6)}
    assert hidden == masking.random_share(ds, share, seed=1)  # reproducible


def test_random_share_differs_by_seed(ds: xr.Dataset) -> None:
    draws = {tuple(masking.random_share(ds, 0.5, seed=s)) for s in range(10)}
    assert len(draws) > 1


def test_by_city_and_isolate(ds: xr.Dataset) -> None:
    assert masking.by_city(ds, ["天津"]) == ["S3", "S4", "S5"]
    assert masking.isolate(ds, "S2", 12.0) == ["S1", "S2", "S3"]  # neighbours 11.1 km away
    assert masking.isolate(ds, "S2", 5.0) == ["S2"]


def test_toggle_adds_and_removes(ds: xr.Dataset) -> None:
    assert masking.toggle(["S1"], "S2") == ["S1", "S2"]
    assert masking.toggle(["S1", "S2"], "S1") == ["S2"]
