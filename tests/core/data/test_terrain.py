"""Terrain reader: known elevations from pvlib's Altitude.h5, and agreement with pvlib's own lookup."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.terrain import elevation_m


@pytest.mark.parametrize(("lat", "lon", "lo", "hi"), [
    (39.90, 116.40, 0.0, 150.0),      # Beijing city (~45 m)
    (39.95, 115.45, 500.0, 3000.0),   # Baihua Shan / Taihang–Xishan range west of Beijing
    (40.60, 117.50, 400.0, 3000.0),   # Yanshan north of Miyun
    (39.00, 119.50, -100.0, 10.0),    # Bohai Sea
])
def test_known_elevations(lat: float, lon: float, lo: float, hi: float) -> None:
    z = float(elevation_m(np.array([lat]), np.array([lon]))[0])
    assert lo <= z <= hi


def test_matches_pvlib_lookup() -> None:
    from pvlib.location import lookup_altitude

    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(36, 42.5, 25), rng.uniform(113, 120, 25)
    ours = elevation_m(lat, lon)
    theirs = np.array([lookup_altitude(a, b) for a, b in zip(lat, lon, strict=True)])
    np.testing.assert_allclose(ours, theirs)


def test_nonfinite_coordinates_give_zero() -> None:
    z = elevation_m(np.array([np.nan, 39.9]), np.array([116.4, np.inf]))
    assert z.shape == (2,) and (z == 0).all()
