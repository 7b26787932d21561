import numpy as np
import pytest

from core.baselines.logok import BACKTRANSFORMS, LogOrdinaryKriging
from core.baselines.ok import OrdinaryKriging
from core.contracts.grid import GridSpec
from core.engine.infer import infer
from core.engine.models import get_model
from tests.factories import tiny_stationset


def test_equidistant_pair_gives_the_back_transformed_mean_of_logs(line3):
    res = infer(LogOrdinaryKriging(backtransform="expm1"), line3, np.array([True, False, True]))
    vals = line3["pm25"].values
    want = np.expm1((np.log1p(vals[:, 0]) + np.log1p(vals[:, 2])) / 2)  # symmetric weights 1/2, 1/2
    np.testing.assert_allclose(res.station_pred.values[:, 1], want, rtol=1e-5)


@pytest.mark.parametrize("backtransform", BACKTRANSFORMS)
def test_exact_at_observed_points_and_own_interval_brackets_the_estimate(scattered, backtransform):
    obs = np.arange(15) % 3 != 0
    lat, lon = scattered["lat"].values[1], scattered["lon"].values[1]  # an observed station
    grid = GridSpec(lat=np.array([lat, 39.0]), lon=np.array([lon, 116.0]))
    res = infer(LogOrdinaryKriging(backtransform=backtransform), scattered, obs, grid=grid)
    vals = scattered["pm25"].values
    np.testing.assert_allclose(res.station_pred.values[:, obs], vals[:, obs], rtol=1e-4)
    np.testing.assert_allclose(res.grid["pm25"].values[:, 0, 0], vals[:, 1], rtol=1e-3)
    lo, hi, est = res.station_lo.values, res.station_hi.values, res.station_pred.values
    assert np.isfinite(lo[:, ~obs]).all() and (lo[:, ~obs] < hi[:, ~obs]).all()
    assert (lo <= est + 1e-3).all() and (est <= hi + 1e-3).all()
    assert {"pm25_lo", "pm25_hi"} <= set(res.grid)


def test_lognormal_mean_is_above_the_median(scattered):
    obs = np.arange(15) % 2 == 0
    med = infer(LogOrdinaryKriging(backtransform="expm1"), scattered, obs).station_pred.values[:, ~obs]
    mean = infer(LogOrdinaryKriging(backtransform="lognormal"), scattered, obs).station_pred.values[:, ~obs]
    assert (mean >= med - 1e-4).all() and (mean > med).any()


def test_log_kriging_beats_plain_kriging_on_a_multiplicative_field():
    """A field whose spatial contrast scales with its level (like PM2.5): log-OK should win."""
    rng = np.random.default_rng(5)
    lat, lon = 39.0 + rng.uniform(-0.8, 0.8, 30), 116.0 + rng.uniform(-1, 1, 30)
    level = np.exp(rng.normal(3.5, 1.0, 72))[:, None]
    vals = level * np.exp(0.5 * (lat - 39) + 0.4 * (lon - 116) + rng.normal(0, 0.1, (72, 30)))
    ds = tiny_stationset(vals, lat, lon)
    obs = np.arange(30) % 3 != 0
    err = {}
    for name, m in (("ok", OrdinaryKriging()), ("logok", LogOrdinaryKriging())):
        pred = infer(m, ds, obs).station_pred.values[:, ~obs]
        err[name] = np.abs(pred - vals[:, ~obs]).mean()
    assert err["logok"] < err["ok"]


def test_registry_serves_logok():
    assert get_model("logok", calibrated=False).name == "logok"
