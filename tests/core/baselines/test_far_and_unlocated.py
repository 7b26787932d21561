"""A value or a clear error, never an unexplained NaN — far-only observations, unlocated stations."""

from __future__ import annotations

import numpy as np
import pytest

from core.baselines.idw import IDW
from core.baselines.knn import KNN
from core.baselines.linear import LinearNeighbours
from core.baselines.logok import LogOrdinaryKriging
from core.baselines.ok import OrdinaryKriging
from core.contracts.kriger import Window
from core.engine.infer import infer
from core.geo import haversine_km
from tests.factories import tiny_stationset

MODELS = {"idw": lambda: IDW(2.0), "knn": KNN, "ok": OrdinaryKriging, "logok": LogOrdinaryKriging,
          "linear": LinearNeighbours}


def _window(ds):
    t = ds["time"].values
    return Window(t[0], t[-1])


@pytest.fixture
def chain():
    """100 stations on a 220 km meridian, 24 hours."""
    rng = np.random.default_rng(0)
    n = 100
    return tiny_stationset(50 + rng.normal(0, 5, (24, n)), 39 + np.linspace(0, 2, n), np.full(n, 116.0))


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("observed_idx", [[99], [0], [97, 98, 99], [0, 99]])
def test_only_far_stations_observed_still_gives_a_value_everywhere(chain, name, observed_idx):
    obs = np.zeros(chain.sizes["station"], bool)
    obs[observed_idx] = True
    pred = infer(MODELS[name](), chain, obs, None, _window(chain)).station_pred.values
    assert np.isfinite(pred).all(), f"{name}: {int(np.isnan(pred).sum())} NaN"
    if len(observed_idx) == 1 and name in ("idw", "knn", "ok"):  # one input: every estimate is that station's value
        np.testing.assert_allclose(pred, np.repeat(chain["pm25"].values[:, observed_idx], 100, axis=1), rtol=1e-5)


@pytest.mark.parametrize("k", [1, 5, 16])
def test_knn_beyond_its_candidate_list_is_the_brute_force_answer(k):
    rng = np.random.default_rng(k)
    n = 300
    lat, lon = 38 + rng.uniform(0, 3, n), 115 + rng.uniform(0, 4, n)
    vals = rng.uniform(5, 200, (6, n))
    ds = tiny_stationset(vals, lat, lon)
    obs = rng.random((6, n)) < 0.02  # ~6 observed per hour: the 64 nearest candidates often hold < k
    got = infer(KNN(k), ds, obs, None, _window(ds)).station_pred.values
    d = haversine_km(lat, lon, lat, lon)
    for t in range(6):
        seen = np.flatnonzero(obs[t])
        near = seen[np.argsort(d[:, seen], axis=1, kind="stable")[:, :k]]  # (N, ≤k)
        np.testing.assert_allclose(got[t], vals[t][near].mean(axis=1), rtol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("bad", ["lat", "lon", "both"])
def test_an_observed_station_without_coordinates_is_not_an_input(scattered, name, bad):
    lat, lon = scattered["lat"].values.copy(), scattered["lon"].values.copy()
    if bad in ("lat", "both"):
        lat[3] = np.nan
    if bad in ("lon", "both"):
        lon[3] = np.nan
    ds = tiny_stationset(scattered["pm25"].values, lat, lon)
    obs = np.ones(ds.sizes["station"], bool)
    obs[::2] = False
    obs[3] = True
    pred = infer(MODELS[name](), ds, obs, None, _window(ds)).station_pred.values
    located = np.isfinite(lat) & np.isfinite(lon)
    assert np.isfinite(pred[:, located]).all()
    # same answer as if the unlocated station did not exist
    ref_ds = tiny_stationset(scattered["pm25"].values[:, located], lat[located], lon[located])
    ref = infer(MODELS[name](), ref_ds, obs[located], None, _window(ref_ds)).station_pred.values
    if name != "linear":  # linear's fit sees a different station list (its random fitting masks differ)
        np.testing.assert_allclose(pred[:, located], ref, rtol=1e-4)
