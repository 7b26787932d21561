"""Tiny StationSets with known answers for the baseline tests."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tests.factories import tiny_stationset


@pytest.fixture
def line3() -> xr.Dataset:
    """North, centre, south stations 0.2° apart on one meridian: N and S are equidistant from the centre."""
    vals = np.array([[10.0, 99.0, 20.0], [30.0, 99.0, 50.0], [0.0, 99.0, 4.0]])
    return tiny_stationset(vals, [39.2, 39.0, 38.8], [116.0, 116.0, 116.0])


@pytest.fixture
def scattered() -> xr.Dataset:
    """15 stations scattered over ~150 km, 48 hours of a smooth field with noise (µg/m³)."""
    rng = np.random.default_rng(3)
    lat = 39.0 + rng.uniform(-0.6, 0.6, 15)
    lon = 116.0 + rng.uniform(-0.8, 0.8, 15)
    hours = np.arange(48)[:, None]
    vals = 60 + 30 * np.sin(hours / 7) + 20 * (lat - 39)[None, :] + 10 * (lon - 116)[None, :]
    vals = vals + rng.normal(0, 2, vals.shape)
    return tiny_stationset(vals, lat, lon)
