"""`python -m core select`: the best-on-validation run is shipped and the card lists every seed tried."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from core.__main__ import app
from core.contracts.model_spec import module_hparams
from core.engine.checkpoint import save_checkpoint
from core.engine.neural_kriger import NeuralKriger
from core.nn.models.spin import SPEC

TINY = {"hidden": 8, "n_layers": 1, "tcn_layers": 1, "readout_dim": 4, "target_k": 4, "graph_k": 6}


@pytest.fixture
def runs(tmp_path):
    out = []
    for seed, val in ((0, 9.5), (1, 8.9), (2, 9.1)):
        torch.manual_seed(seed)
        hp = SPEC.hparams(TINY)
        card = {"seed": seed, "metrics": {"val_mae": val, "val_idw_mae": 10.0, "best_epoch": 3},
                "train_minutes": 1.0 + seed}
        save_checkpoint("spin", SPEC.arch_version, hp, SPEC.build(module_hparams(hp)), card,
                        root=tmp_path / f"seed{seed}")
        out.append(tmp_path / f"seed{seed}")
    return out


def test_select_ships_lowest_validation_mae(runs, tmp_path) -> None:
    dest = tmp_path / "models"
    res = CliRunner().invoke(app, ["select", "--model", "spin", *map(str, runs), "--out", str(dest)])
    assert res.exit_code == 0, res.output
    card = json.loads((dest / "spin" / "card.json").read_text())
    assert card["chosen_seed"] == 1 and card["seed"] == 1
    assert [s["val_mae"] for s in card["seeds_tried"]] == [9.5, 8.9, 9.1]
    assert (dest / "spin" / "model.pt").read_bytes() == (runs[1] / "spin" / "model.pt").read_bytes()
    NeuralKriger.from_checkpoint(SPEC, root=dest, device="cpu")  # sha256 in the card still matches


def test_select_missing_run_is_a_clear_error(tmp_path) -> None:
    res = CliRunner().invoke(app, ["select", "--model", "spin", str(tmp_path / "nope")])
    assert res.exit_code != 0
    assert "train --model spin --out" in (res.output + str(res.exception))


def _selected_seeds_tried(tmp_path, hparams: list[dict]) -> list[dict]:
    """``select`` over one run per hyper-parameter dict (seed = position): the shipped card's ``seeds_tried``."""
    runs = []
    for seed, hp in enumerate(hparams):
        torch.manual_seed(seed)
        save_checkpoint("spin", SPEC.arch_version, hp, SPEC.build(module_hparams(hp)),
                        {"seed": seed, "metrics": {"val_mae": 9.0 + seed, "best_epoch": 1}}, root=tmp_path / f"r{seed}")
        runs.append(tmp_path / f"r{seed}")
    res = CliRunner().invoke(app, ["select", "--model", "spin", *map(str, runs), "--out", str(tmp_path / "models")])
    assert res.exit_code == 0, res.output
    return json.loads((tmp_path / "models" / "spin" / "card.json").read_text())["seeds_tried"]


@pytest.mark.parametrize("recipe, listed", [
    ({}, ["aux_dropout", "sparse_share"]),
    ({"train_margin_deg": "all", "subnet_size": 150},
     ["aux_dropout", "sparse_share", "train_margin_deg", "subnet_size"]),
    ({"aux_dropout": 0.5, "corr_scale": 0.6}, ["aux_dropout", "sparse_share"]),
    ({"ok_nugget": 0.3, "ok_range_km": 90.0}, ["aux_dropout", "sparse_share"]),  # fitted on data: not the recipe
])
def test_seeds_tried_lists_whatever_recipe_tells_the_runs_apart(tmp_path, recipe, listed) -> None:
    """Runs trained differently (e.g. on a wider region) say so in the shipped card, not only their seed."""
    tried = _selected_seeds_tried(tmp_path, [SPEC.hparams(TINY), SPEC.hparams(TINY | recipe)])
    assert [list(t["hparams"]) for t in tried] == [listed, listed]
    for k, v in recipe.items():
        if k in listed:
            assert tried[1]["hparams"][k] == v and tried[0]["hparams"][k] != v


def test_seeds_tried_reads_a_flag_an_older_card_lacks_as_its_default(tmp_path) -> None:
    """A run trained before a recipe flag existed had its default: listed as that value, not as unknown."""
    older = {k: v for k, v in SPEC.hparams(TINY).items() if k != "loo_inputs"}  # a card from before the flag
    tried = _selected_seeds_tried(tmp_path, [older, SPEC.hparams(TINY | {"loo_inputs": True})])
    assert [t["hparams"]["loo_inputs"] for t in tried] == [False, True]


def test_ensemble_assembles_runs_of_the_real_network(shared_data, tmp_path) -> None:
    from core.data.load import load_stationset
    from core.data.splits import select_test_stations

    s_test = select_test_stations(load_stationset(dataset="cnemc_bth_2019"))
    runs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        hp = SPEC.hparams(TINY)
        card = {"seed": seed, "dataset": "cnemc_bth_2019", "data_sha256": "x", "test_stations": list(s_test),
                "metrics": {"val_mae": 20.0 + seed, "best_epoch": 1, "val_hidden_share": 0.5}}
        save_checkpoint("spin", SPEC.arch_version, hp, SPEC.build(module_hparams(hp)), card,
                        root=tmp_path / f"seed{seed}")
        runs += ["--run", str(tmp_path / f"seed{seed}")]
    res = CliRunner().invoke(app, ["ensemble", *runs, "--out", str(tmp_path / "ens")])
    assert res.exit_code == 0, res.output
    said = json.loads(res.output)
    assert said["seed"] == "0+1" and [m["seed"] for m in said["members"]] == [0, 1]
    card = json.loads((tmp_path / "ens" / "spin" / "card.json").read_text())
    assert card["metrics"]["val_mae"] == said["val_mae"] > 0 and card["test_stations"] == list(s_test)
    assert NeuralKriger.from_checkpoint(SPEC, root=tmp_path / "ens", device="cpu").hparams["members"] == 2


def test_ensemble_of_runs_without_their_data_says_so(runs, tmp_path) -> None:
    res = CliRunner().invoke(app, ["ensemble", "--run", str(runs[0]), "--run", str(runs[1]),
                                   "--out", str(tmp_path / "ens")])
    from core.errors import InvalidRequest

    assert isinstance(res.exception, InvalidRequest)  # `python -m core` prints it as "error: …", exit code 2
    assert "names the training data" in str(res.exception) and "seed0" in str(res.exception)
