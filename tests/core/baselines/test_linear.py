import numpy as np

from core.baselines.linear import LinearNeighbours
from core.contracts.grid import GridSpec
from core.contracts.kriger import Window
from core.engine.infer import infer


def test_constant_field_is_reproduced_on_stations_and_grid(scattered):
    const = scattered.copy()
    const["pm25"][:] = 42.0
    obs = np.arange(15) % 3 != 0
    w = Window(const["time"].values[24], const["time"].values[-1])
    res = infer(LinearNeighbours(k=4), const, obs, grid=GridSpec.from_bbox((115.5, 38.5, 116.5, 39.5), 0.5), window=w)
    np.testing.assert_allclose(res.station_pred.values, 42.0, rtol=1e-3)
    np.testing.assert_allclose(res.grid["pm25"].values, 42.0, rtol=1e-3)


def test_unseen_station_uses_pooled_model_and_beats_the_mean(scattered):
    obs = np.ones(15, bool)
    obs[[0, 7]] = False  # hidden at every hour: never a fitting target
    w = Window(scattered["time"].values[24], scattered["time"].values[-1])
    res = infer(LinearNeighbours(k=4, min_rows=10), scattered, obs, window=w)
    assert res.extras["per_target_models"] == 13
    pred = res.station_pred.values[:, ~obs]
    truth = scattered["pm25"].values[24:, ~obs]
    assert np.isfinite(pred).all()
    assert np.abs(pred - truth).mean() < np.abs(truth - truth.mean()).mean()


def test_station_hidden_only_in_the_window_gets_its_own_model(scattered):
    obs = np.ones((48, 15), bool)
    obs[24:, 3] = False
    w = Window(scattered["time"].values[24], scattered["time"].values[-1])
    res = infer(LinearNeighbours(k=4, min_rows=10), scattered, obs, window=w)
    assert res.extras["per_target_models"] == 15
    assert np.isfinite(res.station_pred.values[:, 3]).all()
