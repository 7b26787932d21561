"""Great-circle helpers and the wind convention."""

from __future__ import annotations

import numpy as np
import pytest

from core.geo import bearing_rad, haversine_km, wind_to_uv, within_reach_box


@pytest.mark.parametrize(
    ("direction", "speed", "u", "v"),
    [
        (0.0, 2.0, 0.0, -2.0),  # from the north → blows south
        (90.0, 3.0, -3.0, 0.0),  # from the east → blows west
        (225.0, np.sqrt(2), 1.0, 1.0),  # from the south-west → blows north-east
        (np.nan, 0.0, 0.0, 0.0),  # calm needs no direction
        (120.0, 0.0, 0.0, 0.0),
        (np.nan, 4.0, np.nan, np.nan),  # unknown direction, not calm → unknown wind
    ],
)
def test_wind_to_uv(direction: float, speed: float, u: float, v: float) -> None:
    got_u, got_v = wind_to_uv(np.array([direction]), np.array([speed]))
    np.testing.assert_allclose([got_u[0], got_v[0]], [u, v], atol=1e-12)


def test_haversine_one_degree_of_latitude_and_bearing_east() -> None:
    d = haversine_km(np.array([39.0]), np.array([116.0]), np.array([40.0, 39.0]), np.array([116.0, 117.0]))
    assert d[0, 0] == pytest.approx(111.19, abs=0.01)
    assert d[0, 1] == pytest.approx(111.19 * np.cos(np.radians(39.0)), rel=1e-3)
    b = bearing_rad(np.array([39.0]), np.array([116.0]), np.array([40.0, 39.0]), np.array([116.0, 117.0]))
    assert b[0, 0] == pytest.approx(0.0, abs=1e-9) and b[0, 1] == pytest.approx(np.pi / 2, abs=0.01)


@pytest.mark.parametrize(("centre", "reach_km"), [((39.5, 116.5), 50.0), ((52.0, 125.0), 300.0), ((20.0, 110.0), 5.0)])
def test_reach_box_holds_every_point_within_reach(centre: tuple[float, float], reach_km: float) -> None:
    rng = np.random.default_rng(0)
    la, lo = centre
    tlat, tlon = la + rng.uniform(-0.5, 0.5, 40), lo + rng.uniform(-0.5, 0.5, 40)
    lat, lon = la + rng.uniform(-8, 8, 4000), lo + rng.uniform(-12, 12, 4000)
    lat[0] = np.nan
    box = within_reach_box(lat, lon, tlat, tlon, reach_km)
    near = np.nanmin(haversine_km(lat, lon, tlat, tlon), axis=1) <= reach_km
    assert not box[0] and box[near].all()
    assert box.sum() < len(lat) and near.sum() > 0  # a real filter, and not vacuous
