import numpy as np
import pytest

from core.baselines.ok import RANGES_KM, OrdinaryKriging, empirical_variogram, fit_spherical, spherical
from core.contracts.grid import GridSpec
from core.engine.infer import infer


def test_variogram_fit_recovers_a_known_spherical_model():
    centres = np.linspace(5, 245, 12)
    a = RANGES_KM[9]
    gamma = spherical(centres, np.array(4.0), np.array(25.0), np.array(a))[None, :]
    nug, psill, rng = fit_spherical(centres, gamma, np.ones_like(gamma))
    np.testing.assert_allclose([nug[0], psill[0], rng[0]], [4.0, 25.0, a], rtol=1e-6)


def test_empirical_semivariance_of_two_stations():
    vals = np.array([[10.0, 16.0], [5.0, np.nan]])
    centres, gamma, counts = empirical_variogram(vals, np.array([39.0, 39.1]), np.array([116.0, 116.0]))
    b = counts[0].argmax()
    assert gamma[0, b] == pytest.approx(18.0) and counts[1].sum() == 0


def test_kriging_reproduces_an_observed_point_on_a_grid_cell(scattered):
    obs = np.ones(15, bool)
    obs[:3] = False
    lat, lon = scattered["lat"].values[5], scattered["lon"].values[5]
    grid = GridSpec(lat=np.array([lat]), lon=np.array([lon]))
    res = infer(OrdinaryKriging(8), scattered, obs, grid=grid)
    np.testing.assert_allclose(res.grid["pm25"].values[:, 0, 0], scattered["pm25"].values[:, 5], rtol=1e-4)


def test_constant_field_is_exact_and_equidistant_pair_gives_mean(scattered, line3):
    const = scattered.copy()
    const["pm25"][:] = 42.0
    obs = np.arange(15) % 3 != 0
    res = infer(OrdinaryKriging(), const, obs)
    np.testing.assert_allclose(res.station_pred.values, 42.0, rtol=1e-6)
    res = infer(OrdinaryKriging(), line3, np.array([True, False, True]))
    np.testing.assert_allclose(res.station_pred.values[:, 1], [15.0, 40.0, 2.0], rtol=1e-6)


def test_hidden_predictions_are_finite_guarded_and_counted(scattered):
    obs = np.arange(15) % 2 == 0
    res = infer(OrdinaryKriging(), scattered, obs)
    hid = res.station_pred.values[:, ~obs]
    vals = scattered["pm25"].values
    assert np.isfinite(hid).all() and (hid >= 0).all()
    assert hid.max() <= 2 * vals.max() - vals.min()  # guard bound: within the neighbours' spread
    assert res.extras["fallback_values"] >= 0 and res.extras["hours"] == 48
    mae = np.abs(hid - vals[:, ~obs]).mean()
    assert mae < np.abs(vals[:, ~obs] - vals[:, obs].mean(1, keepdims=True)).mean()  # beats the regional mean
