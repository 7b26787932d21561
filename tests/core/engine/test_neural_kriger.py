"""NeuralKriger through infer(): unseen station sets, hidden stations blanked, grid and influence."""

from __future__ import annotations

import numpy as np
import torch

from core.engine.infer import infer
from core.engine.neural_kriger import NeuralKriger
from core.engine.result import Window
from core.engine.trainer import model_hparams
from core.grid import GridSpec
from core.nn.models.spin import ADAPTER


def _kriger(tiny_hp) -> NeuralKriger:
    torch.manual_seed(0)
    hp = ADAPTER.hparams(tiny_hp)
    return NeuralKriger(ADAPTER, ADAPTER.build(model_hparams(hp)), hp, device="cpu")


def test_unseen_station_set_and_grid(sim, tiny_hp) -> None:
    k = _kriger(tiny_hp)
    other = sim.stations.isel(station=slice(7, 30)).drop_vars(["u10", "v10"])  # other codes, other count
    obs = np.isfinite(other["pm25"].values)
    obs[:, :6] = False
    grid = GridSpec.from_bbox((115.0, 38.0, 117.0, 40.0), 0.25)
    t = other["time"].values
    res = infer(k, other, obs, grid, Window.of(t[5], t[40]))  # 36 h: chunks of 12 h
    assert res.station_pred.shape == (36, 23)
    assert np.isfinite(res.station_pred.values).all()
    assert res.grid["pm25"].shape == (36, *grid.shape) and np.isfinite(res.grid["pm25"].values).all()
    assert res.wind == "inferred" and res.influence is not None
    assert set(res.influence["target"].values) == set(other["station"].values)


def test_hidden_values_do_not_leak(sim, tiny_hp) -> None:
    k = _kriger(tiny_hp)
    ds = sim.stations
    obs = np.isfinite(ds["pm25"].values)
    obs[:, 3] = False
    w = Window.of(ds["time"].values[0], ds["time"].values[23])
    a = infer(k, ds, obs, None, w).station_pred.values
    changed = ds.copy(deep=True)
    changed["pm25"][:, 3] = changed["pm25"][:, 3] * 10  # the hidden station's truth must not matter
    b = infer(k, changed, obs, None, w).station_pred.values
    np.testing.assert_array_equal(a, b)
