import numpy as np
import pytest

from core.baselines.knn import KNN
from core.engine.infer import infer
from core.geo import haversine_km


def test_k1_is_the_nearest_observed_station(scattered):
    obs = np.arange(15) % 2 == 0
    res = infer(KNN(1), scattered, obs)
    lat, lon = scattered["lat"].values, scattered["lon"].values
    d = haversine_km(lat, lon, lat[obs], lon[obs])
    nearest = np.flatnonzero(obs)[d.argmin(axis=1)]
    np.testing.assert_allclose(res.station_pred.values, scattered["pm25"].values[:, nearest], rtol=1e-6)


@pytest.mark.parametrize("k", [2, 5])
def test_mean_of_k_nearest(scattered, k):
    obs = np.ones(15, bool)
    obs[0] = False
    res = infer(KNN(k), scattered, obs)
    lat, lon = scattered["lat"].values, scattered["lon"].values
    d = haversine_km(lat[:1], lon[:1], lat, lon)[0]
    d[0] = np.inf
    near = np.argsort(d)[:k]
    np.testing.assert_allclose(res.station_pred.values[:, 0], scattered["pm25"].values[:, near].mean(1), rtol=1e-5)


def test_fewer_observed_than_k_uses_what_there_is(line3):
    res = infer(KNN(5), line3, np.array([True, False, True]))
    np.testing.assert_allclose(res.station_pred.values[:, 1], [15.0, 40.0, 2.0])
