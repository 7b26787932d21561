"""NeuralKriger through infer(): unseen station sets, hidden stations blanked, grid and influence."""

from __future__ import annotations

import numpy as np
import torch

from core.contracts.grid import GridSpec
from core.contracts.kriger import Window
from core.contracts.model_spec import module_hparams
from core.engine.infer import infer
from core.engine.neural_kriger import NeuralKriger
from core.nn.models.spin import SPEC


def _kriger(tiny_hp) -> NeuralKriger:
    torch.manual_seed(0)
    hp = SPEC.hparams(tiny_hp)
    return NeuralKriger(SPEC, SPEC.build(module_hparams(hp)), hp, device="cpu")


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


def test_tiles_reuse_the_station_encoding_and_match_one_grid(sim, tiny_hp) -> None:
    """One kriger serving tiles of a grid (station side encoded once, cached) gives exactly the values of a
    fresh kriger over the whole grid: stations and every cell."""
    ds = sim.stations
    obs = np.isfinite(ds["pm25"].values)
    obs[:, ::3] = False
    t = ds["time"].values
    win = Window.of(t[0], t[23])
    full = GridSpec.from_bbox((115.0, 38.0, 117.0, 40.0), 0.25)
    whole = infer(_kriger(tiny_hp), ds, obs, full, win)
    k = _kriger(tiny_hp)
    calls = []
    real_encode = k.module.encode
    k.module.encode = lambda batch: calls.append(1) or real_encode(batch)
    ny = full.shape[0]
    for y0, y1 in ((0, 3), (3, ny)):
        part = GridSpec(lat=full.lat[y0:y1], lon=full.lon)
        res = infer(k, ds, obs, part, win)
        np.testing.assert_array_equal(res.grid["pm25"].values, whole.grid["pm25"].values[:, y0:y1])
        np.testing.assert_array_equal(res.station_pred.values, whole.station_pred.values)
    assert len(calls) == 1  # the second tile read the cached encoding


def test_encode_then_read_targets_equals_forward(sim, tiny_hp) -> None:
    from core.nn.features import TargetPoints, make_batch, prepare, target_batch

    k = _kriger(tiny_hp)
    nodes = prepare(sim.stations)
    lat, lon = GridSpec.from_bbox((115.0, 38.0, 117.0, 40.0), 0.5).points()
    targets = TargetPoints.build(lat, lon, nodes, k=8)
    starts = np.array([0, 30])
    obs = np.isfinite(nodes.pm25)[starts[:, None] + np.arange(24)]
    with torch.no_grad():
        whole = k.module(make_batch(nodes, starts, 24, obs, targets=targets, with_truth=False))
        station = make_batch(nodes, starts, 24, obs, with_truth=False)
        out, state = k.module.encode(station)
        grid = k.module.read_targets(station | target_batch(nodes, starts, 24, station, targets), state)
    torch.testing.assert_close(out["pred"], whole["pred"], rtol=0, atol=0)
    torch.testing.assert_close(grid, whole["grid_pred"], rtol=0, atol=0)
