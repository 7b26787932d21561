"""The ``inferred-wind`` ablation really ignores measured u10/v10 (label, advection input, predictions)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.contracts.kriger import Window
from core.contracts.model_spec import module_hparams
from core.engine.infer import infer
from core.engine.neural_kriger import NeuralKriger
from core.engine.trainer import ABLATIONS, train
from core.nn.features import make_batch, prepare
from core.nn.models.spin import SPEC


def _kriger(tiny_hp: dict, ablation: str | None) -> NeuralKriger:
    torch.manual_seed(0)
    hp = SPEC.hparams({**tiny_hp, **ABLATIONS.get(ablation, {})})
    return NeuralKriger(SPEC, SPEC.build(module_hparams(hp)), hp, device="cpu")


def _scrambled_wind(ds):
    """Same stations and PM2.5, different measured wind (u, v rotated by 90°, doubled)."""
    out = ds.copy(deep=True)
    out["u10"], out["v10"] = -2 * ds["v10"], 2 * ds["u10"]
    return out


@pytest.mark.parametrize(("ablation", "label", "wind_matters"), [(None, "measured", True),
                                                                  ("inferred-wind", "inferred", False)])
def test_wind_label_and_dependence_on_measured_wind(sim, tiny_hp, ablation, label, wind_matters) -> None:
    k = _kriger(tiny_hp, ablation)
    ds = sim.stations
    assert "u10" in ds  # the simulator has measured wind
    obs = np.isfinite(ds["pm25"].values)
    obs[:, ::4] = False
    w = Window.of(ds["time"].values[0], ds["time"].values[23])
    a = infer(k, ds, obs, None, w)
    b = infer(k, _scrambled_wind(ds), obs, None, w)
    assert a.wind == label
    assert (not np.allclose(a.station_pred.values, b.station_pred.values)) == wind_matters


def test_advection_input_is_not_the_measured_wind(sim, tiny_hp) -> None:
    nodes = prepare(sim.stations)
    batch = make_batch(nodes, np.array([0]), 12, np.ones((1, 12, nodes.n_nodes), bool))
    full, ablated = (_kriger(tiny_hp, a).module for a in (None, "inferred-wind"))
    with torch.no_grad():
        u_full, u_abl = full(batch)["wind_u"], ablated(batch)["wind_u"]
    torch.testing.assert_close(u_full, batch["wind"][..., 0])  # wind_scale starts at 1
    assert not torch.allclose(u_abl, batch["wind"][..., 0])


def test_trained_card_says_inferred(sim, tiny_hp, tmp_path) -> None:
    res = train(SPEC, sim.stations, overrides={**tiny_hp, **ABLATIONS["inferred-wind"], "epochs": 1},
                device="cpu", out_root=tmp_path, save_as="spin-inferred-wind", progress=False)
    card = json.loads((res.out_dir / "card.json").read_text())
    assert card["wind"] == "inferred"
    reloaded = NeuralKriger.from_checkpoint(SPEC, root=tmp_path, name="spin-inferred-wind", device="cpu")
    assert reloaded.hparams["use_measured_wind"] is False
