"""Assembling runs into an ensemble checkpoint: served through the engine, scored as its members, refusals."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from core.contracts.kriger import Window
from core.contracts.model_spec import module_hparams
from core.engine.checkpoint import save_checkpoint
from core.engine.ensemble import assemble
from core.engine.infer import infer
from core.engine.neural_kriger import NeuralKriger
from core.engine.trainer import prepare_training_data, validate
from core.errors import InvalidRequest
from core.nn.ensemble import CorrectionEnsemble
from core.nn.models.spin import SPEC


@pytest.fixture
def data(sim, tiny_hp):
    hp = SPEC.hparams(tiny_hp)
    return prepare_training_data(sim.stations, hp["window"], predict=hp["predict"], margin_deg=None)


def _run(root, seed: int, tiny_hp: dict, data, **changes):
    """A run folder as `train --out` leaves it: the checkpoint of a seeded module and a card naming its data."""
    torch.manual_seed(seed)
    hp = SPEC.hparams({**tiny_hp, **changes.pop("hp", {})})
    module = SPEC.build(module_hparams(hp))
    card = {"dataset": "sim", "data_sha256": "abc", "test_stations": list(data.test_codes), "seed": seed,
            "metrics": {"val_mae": 1.0 + seed, "best_epoch": seed, "val_hidden_share": 0.5},
            "train_minutes": 0.1, "stopped": "epochs", "steps_run": 3, **changes}
    save_checkpoint("spin", SPEC.arch_version, hp, module, card, root=root)
    return root, module, hp


def _predict(root, sim) -> np.ndarray:
    model = NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu")
    obs = np.isfinite(sim.stations["pm25"].values)
    obs[:, :8] = False
    w = Window.of(sim.stations["time"].values[0], sim.stations["time"].values[23])
    return infer(model, sim.stations, obs, None, w).station_pred.values[:, :8]


def test_assembled_runs_serve_between_their_members(tmp_path, sim, tiny_hp, data) -> None:
    runs = [_run(tmp_path / f"run{s}", s, tiny_hp, data)[0] for s in (1, 2)]
    card = assemble("spin", runs, tmp_path / "ens", data=data)
    assert card["seed"] == "1+2" and card["hparams"]["members"] == 2
    assert [m["seed"] for m in card["members"]] == [1, 2]
    assert card["test_stations"] == list(data.test_codes) and np.isfinite(card["metrics"]["val_mae"])
    loaded = NeuralKriger.from_checkpoint(SPEC, root=tmp_path / "ens", device="cpu")
    assert isinstance(loaded.module, CorrectionEnsemble)
    ens, a, b = (_predict(r, sim) for r in (tmp_path / "ens", *runs))
    assert not np.allclose(a, b)
    assert np.all((ens >= np.minimum(a, b) - 1e-3) & (ens <= np.maximum(a, b) + 1e-3))


def test_validation_score_is_the_members_own_on_identical_runs(tmp_path, tiny_hp, data) -> None:
    run, module, hp = _run(tmp_path / "run1", 1, tiny_hp, data)
    shutil.copytree(run, tmp_path / "copy")
    card = assemble("spin", [run, tmp_path / "copy"], tmp_path / "ens", data=data)
    alone = validate(module.eval(), data, hp, torch.device("cpu"))
    assert card["metrics"]["val_mae"] == pytest.approx(alone["val_mae"], rel=1e-5)
    assert card["metrics"]["val_idw_mae"] == pytest.approx(alone["val_idw_mae"], rel=1e-6)


@pytest.mark.parametrize("change, match", [
    ({"hp": {"hidden": 12}}, "differ in hyper-parameters hidden"),
    ({"test_stations": ["X"]}, "differ in test_stations"),
    ({"data_sha256": "other"}, "differ in data_sha256"),
])
def test_runs_of_another_recipe_or_data_are_refused(tmp_path, tiny_hp, data, change, match) -> None:
    first = _run(tmp_path / "run1", 1, tiny_hp, data)[0]
    other = _run(tmp_path / "run2", 2, tiny_hp, data, **change)[0]
    with pytest.raises(InvalidRequest, match=match):
        assemble("spin", [first, other], tmp_path / "ens", data=data)


def test_one_run_a_repeated_run_a_nested_ensemble_or_another_model_are_refused(tmp_path, tiny_hp, data) -> None:
    runs = [_run(tmp_path / f"run{s}", s, tiny_hp, data)[0] for s in (1, 2)]
    with pytest.raises(InvalidRequest, match="at least two different runs"):
        assemble("spin", runs[:1], tmp_path / "ens", data=data)
    with pytest.raises(InvalidRequest, match="at least two different runs"):
        assemble("spin", [runs[0], runs[0]], tmp_path / "ens", data=data)
    assemble("spin", runs, tmp_path / "ens", data=data)
    with pytest.raises(InvalidRequest, match="already an ensemble"):
        assemble("spin", [tmp_path / "ens", runs[0]], tmp_path / "ens2", data=data)
    with pytest.raises(InvalidRequest, match="cannot be assembled"):
        assemble("aqnet", runs, tmp_path / "ens3", data=data)


@pytest.mark.parametrize("onto", ["a run", "an ensemble"])
def test_an_existing_checkpoint_is_never_overwritten(tmp_path, tiny_hp, data, onto) -> None:
    runs = [_run(tmp_path / f"run{s}", s, tiny_hp, data)[0] for s in (1, 2)]
    dest = runs[0] if onto == "a run" else tmp_path / "ens"
    if onto == "an ensemble":
        assemble("spin", runs, dest, data=data)
    before = (dest / "spin" / "model.pt").read_bytes()
    with pytest.raises(InvalidRequest, match="exists already"):
        assemble("spin", runs, dest, data=data)
    assert (dest / "spin" / "model.pt").read_bytes() == before
