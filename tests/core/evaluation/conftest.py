"""A tiny region for protocol and runner tests: two BTH cities, one outside city, January 2019."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tests.factories import tiny_stationset


@pytest.fixture(scope="module")
def region() -> xr.Dataset:
    """20 stations (8 北京, 8 天津 — BTH; 4 济南 — not BTH), 31 days hourly, smooth field + noise.

    Station 2000A has no data (inactive); two Beijing stations are 5 km apart (sparse-30km cluster).
    """
    rng = np.random.default_rng(7)
    lat = np.r_[39.9 + rng.uniform(-0.3, 0.3, 8), 39.1 + rng.uniform(-0.3, 0.3, 8), 36.6 + rng.uniform(-0.2, 0.2, 4)]
    lon = np.r_[116.4 + rng.uniform(-0.4, 0.4, 8), 117.2 + rng.uniform(-0.4, 0.4, 8), 117.0 + rng.uniform(-.2, .2, 4)]
    lat[1], lon[1] = lat[0] + 0.045, lon[0]  # 5 km north of station 0
    h = np.arange(31 * 24)[:, None]
    vals = 50 + 30 * np.sin(h / 9) + 15 * (lat - 38)[None, :] + rng.normal(0, 3, (len(h), 20))
    vals[rng.random(vals.shape) < 0.03] = np.nan
    codes = [f"{1001 + i}A" for i in range(19)] + ["2000A"]
    vals[:, -1] = np.nan
    city = ["北京"] * 8 + ["天津"] * 8 + ["济南"] * 4
    return tiny_stationset(vals, lat, lon, codes=codes, city=city, is_bth=[c != "济南" for c in city],
                           attrs={"source": "test", "input_sha256": "abc"})
