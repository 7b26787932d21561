"""dashboard.mercator: the one Web-Mercator formula of the images and labels."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.labels import TILE_PX, screen_xy
from dashboard.mercator import MAX_LAT, mercator_y


@pytest.mark.parametrize("lat", [-60.0, -10.0, 0.0, 23.5, 39.9, 80.0])
def test_round_trip_and_symmetry(lat):
    y = mercator_y(lat)
    assert np.degrees(2 * np.arctan(np.exp(y)) - np.pi / 2) == pytest.approx(lat, abs=1e-9)
    assert mercator_y(-lat) == pytest.approx(-y, abs=1e-12)


def test_known_values_and_the_edge_clip():
    assert mercator_y(0.0) == pytest.approx(0.0, abs=1e-15)
    assert mercator_y(45.0) == pytest.approx(0.881373587, rel=1e-9)  # asinh(1)
    assert mercator_y(89.9) == mercator_y(MAX_LAT)


def test_label_pixels_follow_the_same_projection():
    # zoom 0: the equator sits halfway down the world, Beijing above it by its Mercator y
    half = TILE_PX / 2
    _, y0 = screen_xy(np.array([0.0]), np.array([0.0]), 0)
    _, yb = screen_xy(np.array([39.9]), np.array([116.4]), 0)
    assert y0[0] == pytest.approx(half)
    assert yb[0] == pytest.approx(half * (1 - mercator_y(39.9) / np.pi))
