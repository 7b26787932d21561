"""Node features: the emission proxies (population) a place gets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.nn.features import static_features


@pytest.mark.parametrize("missing", ["lat", "lon", "both"])
def test_a_place_without_coordinates_gets_unknown_proxies_and_no_warning(shared_data, missing) -> None:
    lat, lon = np.array([39.90, 39.12, 40.0]), np.array([116.40, 117.20, 116.0])  # Beijing, Tianjin, a third place
    if missing in ("lat", "both"):
        lat[2] = np.nan
    if missing in ("lon", "both"):
        lon[2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # casting NaN to a grid index used to warn
        out = static_features(lat, lon)
    assert out.shape == (3, 3)
    assert out[2].tolist() == [0.0, 0.0, 0.0]  # "unknown", not the grid's corner cell
    assert (out[:2, 2] == 1.0).all() and (out[:2, 0] > 0).all()  # the two cities lie on the population grid
    again = static_features(lat[:2], lon[:2])
    assert np.array_equal(again, out[:2])  # a missing place changes nothing for the others
