import json

import numpy as np
import pytest

from core.baselines import idw as idw_mod
from core.baselines.idw import IDW, load_power
from core.contracts.grid import GridSpec
from core.engine.infer import infer


@pytest.mark.parametrize("power", [1.0, 2.0, 3.5])
def test_equidistant_stations_give_their_mean(line3, power):
    res = infer(IDW(power), line3, np.array([True, False, True]))
    np.testing.assert_allclose(res.station_pred.values[:, 1], [15.0, 40.0, 2.0], rtol=1e-6)


def test_observed_station_is_reproduced_and_constant_field_is_exact(scattered):
    const = scattered.copy()
    const["pm25"][:] = 42.0
    obs = np.arange(15) % 3 != 0
    res = infer(IDW(2.0), const, obs, grid=GridSpec.from_bbox((115.5, 38.5, 116.5, 39.5), 0.25))
    np.testing.assert_allclose(res.station_pred.values, 42.0, rtol=1e-6)
    np.testing.assert_allclose(res.grid["pm25"].values, 42.0, rtol=1e-5)
    res = infer(IDW(2.0), scattered, obs)
    np.testing.assert_allclose(res.station_pred.values[:, obs], scattered["pm25"].values[:, obs], rtol=1e-4)


def test_hour_without_observation_is_nan(line3):
    ds = line3.copy()
    ds["pm25"][1, :] = np.nan
    res = infer(IDW(), ds, np.array([True, False, True]))
    assert np.isnan(res.station_pred.values[1]).all() and np.isfinite(res.station_pred.values[0]).all()


def test_card_power_is_used(tmp_path, monkeypatch):
    card = tmp_path / "card.json"
    monkeypatch.setattr(idw_mod, "CARD", card)
    assert idw_mod.make_idw().power == 2.0
    card.write_text(json.dumps({"power": 3.0}))
    assert load_power() == 3.0 and idw_mod.make_idw().power == 3.0
    assert idw_mod.make_idw(power=1.5).power == 1.5
    card.write_text(json.dumps({"power": 3.0, "power_by_protocol": {"holdout": 2.0}}))
    assert idw_mod.make_idw(protocol="holdout").power == 2.0 and idw_mod.make_idw(protocol="mask-70").power == 3.0
