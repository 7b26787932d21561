"""Checkpoints: round trip through the registry path, refusal of a mismatched or altered file."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from core.contracts.kriger import Window
from core.contracts.model_spec import module_hparams
from core.engine.checkpoint import load_checkpoint, save_checkpoint
from core.engine.infer import infer
from core.engine.neural_kriger import NeuralKriger
from core.errors import CheckpointMismatch, DataNotFound
from core.nn.models.spin import SPEC


@pytest.fixture
def saved(tmp_path, tiny_hp):
    torch.manual_seed(0)
    hp = SPEC.hparams(tiny_hp)
    module = SPEC.build(module_hparams(hp))
    save_checkpoint("spin", SPEC.arch_version, hp, module, {"test_stations": ["X"]}, root=tmp_path)
    return tmp_path, module, hp


def test_round_trip_gives_identical_predictions(saved, sim) -> None:
    root, module, hp = saved
    loaded = NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu")
    fresh = NeuralKriger(SPEC, module, hp, device="cpu")
    obs = np.isfinite(sim.stations["pm25"].values)
    obs[:, :5] = False
    w = Window.of(sim.stations["time"].values[0], sim.stations["time"].values[23])
    a = infer(loaded, sim.stations, obs, None, w).station_pred.values
    b = infer(fresh, sim.stations, obs, None, w).station_pred.values
    np.testing.assert_array_equal(a, b)
    assert loaded.card["test_stations"] == ["X"]


def test_a_string_root_works_like_a_path(tmp_path, tiny_hp) -> None:
    """A training run must not end in a TypeError at the save because its folder came as a string."""
    hp = SPEC.hparams(tiny_hp)
    out = save_checkpoint("spin", SPEC.arch_version, hp, SPEC.build(module_hparams(hp)), {}, root=str(tmp_path))
    assert out == tmp_path / "spin" and (out / "model.pt").is_file()
    assert load_checkpoint("spin", SPEC.arch_version, str(tmp_path))[1]["name"] == "spin"


def test_refuses_other_architecture_version(saved) -> None:
    root, _, _ = saved
    with pytest.raises(CheckpointMismatch, match="architecture version"):
        load_checkpoint("spin", "spin-999", root)


def test_refuses_altered_file(saved) -> None:
    root, _, _ = saved
    pt = root / "spin" / "model.pt"
    pt.write_bytes(pt.read_bytes() + b"\0")
    with pytest.raises(CheckpointMismatch, match="sha256"):
        load_checkpoint("spin", SPEC.arch_version, root)


def test_missing_checkpoint_says_how_to_train(tmp_path) -> None:
    with pytest.raises(DataNotFound, match="python -m core train --model spin"):
        load_checkpoint("spin", SPEC.arch_version, tmp_path)


def test_spin_1_checkpoint_is_refused_with_advice(tmp_path, tiny_hp) -> None:
    """A checkpoint written by spin-1 (the architecture before the kriging init) cannot be loaded by spin-2."""
    torch.manual_seed(0)
    hp = SPEC.hparams(tiny_hp)
    save_checkpoint("spin", "spin-1", hp, SPEC.build(module_hparams(hp)), {"git_commit": "abc"}, root=tmp_path)
    assert SPEC.arch_version == "spin-2"
    with pytest.raises(CheckpointMismatch) as err:
        NeuralKriger.from_checkpoint(SPEC, root=tmp_path, device="cpu")
    msg = str(err.value)
    assert str(tmp_path / "spin" / "model.pt") in msg and "'spin-1'" in msg and "'spin-2'" in msg
    assert "python -m core train --model spin" in msg


class NotWeights:
    """A Python object torch.load(weights_only=True) must refuse to unpickle."""

    def __init__(self) -> None:
        self.x = 1


def _torch_bytes(obj) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("content", [
    pytest.param(lambda: _torch_bytes({"name": "spin", "arch_version": SPEC.arch_version, "obj": NotWeights()}),
                 id="pickled-object"),
    pytest.param(lambda: __import__("pickle").dumps({"name": "spin", "obj": NotWeights()}), id="plain-pickle"),
    pytest.param(lambda: bytes(range(256)) * 4, id="garbage"),
    pytest.param(lambda: _torch_bytes(torch.zeros(3)), id="a-tensor-not-a-dict"),
])
def test_a_refused_checkpoint_names_the_file_and_what_to_do(saved, content) -> None:
    import json

    from core.hashing import sha256_file

    root, _, _ = saved
    pt = root / "spin" / "model.pt"
    pt.write_bytes(content())
    card = root / "spin" / "card.json"  # the card agrees with the file: only the unpickling can refuse it
    card.write_text(json.dumps(json.loads(card.read_text()) | {"model_sha256": sha256_file(pt)}))
    with pytest.raises(CheckpointMismatch) as err:
        load_checkpoint("spin", SPEC.arch_version, root)
    assert str(pt) in str(err.value) and "python -m core train --model spin" in str(err.value)


def _with_inference(root, block: dict) -> None:
    import json

    card = root / "spin" / "card.json"
    data = json.loads(card.read_text())
    card.write_text(json.dumps(data | {"inference": block}))


def _block(root, **hp) -> dict:
    import json

    from core.engine.checkpoint import INFERENCE_FORMAT

    sha = json.loads((root / "spin" / "card.json").read_text())["model_sha256"]
    return {"format": INFERENCE_FORMAT, "model_sha256": sha, "hparams": hp}


def _hidden_pred(kriger, sim) -> np.ndarray:
    obs = np.isfinite(sim.stations["pm25"].values)
    obs[:, ::2] = False  # every other station hidden: the init of those reads only the observed half
    w = Window.of(sim.stations["time"].values[0], sim.stations["time"].values[23])
    return infer(kriger, sim.stations, obs, None, w).station_pred.values[:, ::2]


def test_card_inference_block_sets_ok_k_and_changes_hidden_predictions(saved, sim) -> None:
    """The validation-chosen ok_k in the card reaches the module and changes the init at hidden stations;
    loading twice gives the same numbers."""
    root, _, hp = saved
    plain = _hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim)
    assert hp["ok_k"] != 2
    _with_inference(root, _block(root, ok_k=2))
    k2 = NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu")
    assert k2.module.ok_k == 2 and k2.hparams["ok_k"] == 2
    a, b = _hidden_pred(k2, sim), _hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all() and np.abs(a - plain).mean() > 1e-3


def test_card_inference_block_changes_the_interval_fingerprint(saved) -> None:
    from core.intervals import fingerprint

    root, _, _ = saved
    before = fingerprint("spin", root)
    _with_inference(root, _block(root, ok_k=2))
    assert fingerprint("spin", root) != before  # the shipped intervals must be refitted


@pytest.mark.parametrize("edit, match", [
    (lambda b: b | {"format": 0}, "format 0"),
    (lambda b: b | {"model_sha256": "0" * 64}, "chosen for another checkpoint"),
    (lambda b: b | {"hparams": {"hidden": 64}}, "cannot change after training"),
])
def test_stale_or_unknown_inference_block_is_refused(saved, edit, match) -> None:
    root, _, _ = saved
    _with_inference(root, edit(_block(root, ok_k=2)))
    with pytest.raises(CheckpointMismatch, match=match) as err:
        NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu")
    assert "python -m core tune --model spin" in str(err.value)


@pytest.mark.parametrize("scale", [0.25, 0.6, 0.9])
def test_any_corr_scale_follows_from_the_init_alone_and_the_model_as_trained(saved, sim, scale) -> None:
    """What tune relies on to score a corr_scale grid from two passes: the served value at s is
    expm1((1 − s)·log1p(init alone) + s·log1p(as trained)), at hidden stations."""
    from core.nn.models.spin import served_at

    root, _, _ = saved
    ends = []
    for s in (0.0, 1.0, scale):
        _with_inference(root, _block(root, corr_scale=s))
        ends.append(_hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim))
    p0, p1, ps = ends
    assert np.abs(p1 - p0).mean() > 1e-3  # the correction is not nothing
    np.testing.assert_allclose(served_at(p0, p1, scale), ps, rtol=2e-5, atol=1e-4)


def test_tune_spin_writes_the_validation_choice_and_loading_applies_it(saved, sim) -> None:
    """`tune --model spin` on the simulator: the (ok_k, corr_scale) with the lowest worst ratio to logok
    (validation days) goes into the card's inference block, for this very model.pt; the loaded kriger then runs
    with it."""
    import json

    from core.evaluation.tuning import tune_spin

    root, _, _ = saved
    info = tune_spin(stations=sim.stations, protocols=("holdout",), ok_k=(2, 10), corr_scale=(0.5, 1.0), root=root,
                     chunk_hours=(12,))
    table = info["val_mae"]
    ratio = {(k, s): max(v["mae"] / v["logok_mae"] for v in cell.values())
             for k, row in table.items() for s, cell in row.items()}
    assert set(ratio) == {("2", "0.5"), ("2", "1.0"), ("10", "0.5"), ("10", "1.0")}
    assert len(set(ratio.values())) == 4  # every candidate changes the validation MAE
    from core.engine.models import load_learned
    from core.evaluation.runner import all_folds
    from core.evaluation.tuning import _val_mae

    served = load_learned(SPEC, root=root, inference={"ok_k": 10, "corr_scale": 0.5,  # what the table stands for
                                                      "chunk_hours": 12, "variogram": info["variogram"]})
    assert _val_mae(served, "holdout", sim.stations, all_folds(sim.stations)) == pytest.approx(
        table["10"]["0.5"]["holdout"]["mae"], rel=1e-5)
    k, s = min(ratio, key=ratio.get)
    assert (info["ok_k"], info["corr_scale"]) == (int(k), float(s))
    card = json.loads((root / "spin" / "card.json").read_text())
    assert card["inference"]["hparams"] == {"ok_k": int(k), "corr_scale": float(s), "chunk_hours": 12,
                                            "variogram": info["variogram"]}
    assert card["inference"]["trained_with"] == {"ok_k": card["hparams"]["ok_k"], "corr_scale": 1.0,
                                                 "chunk_hours": card["hparams"]["predict"], "variogram": "trained"}
    assert card["inference"]["chunk_hours_tried"] == [12]
    assert card["inference"]["variograms_tried"] == ["trained", "window", "auto"]
    assert card["inference"]["model_sha256"] == card["model_sha256"]
    module = NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu").module
    assert (module.ok_k, module.corr_scale) == (int(k), float(s))


def test_card_corr_scale_reaches_the_module_and_shrinks_hidden_predictions_toward_the_init(saved, sim) -> None:
    """corr_scale 0 in the card serves the kriging init alone; 1 serves the model as trained."""
    root, _, hp = saved
    plain = _hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim)
    _with_inference(root, _block(root, corr_scale=1.0))
    np.testing.assert_allclose(_hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim), plain,
                               rtol=1e-5)
    _with_inference(root, _block(root, corr_scale=0.0))
    k0 = NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu")
    assert k0.module.corr_scale == 0.0
    init_only = _hidden_pred(k0, sim)
    assert np.isfinite(init_only).all() and np.abs(init_only - plain).mean() > 1e-3


def test_card_chunk_hours_reads_a_window_in_longer_chunks(saved, sim) -> None:
    """A 24-h window of a model trained on 12-h windows: chunks of at most 12 h read it as trained; one 24-h chunk
    changes only the hours beside the old chunk edge (the tiny encoder reads ±1 h), where each now sees the
    other side."""
    root, _, hp = saved
    assert hp["window"] == hp["predict"] == 12
    plain = _hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim)
    _with_inference(root, _block(root, chunk_hours=12))
    np.testing.assert_array_equal(_hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim),
                                  plain)
    _with_inference(root, _block(root, chunk_hours=24))
    whole = _hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim)
    changed = np.flatnonzero(np.abs(whole - plain).max(axis=1) > 1e-4)
    assert changed.tolist() == [11, 12]


def test_window_variogram_is_refitted_from_observed_stations_only(saved, sim) -> None:
    """``variogram: window`` refits the kriging init's variogram on the call's window from the stations observed in
    it: the predictions change from the trained variogram's, and the hidden stations' values (even absurd ones)
    are never read."""
    root, _, hp = saved
    trained = _hidden_pred(NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu"), sim)
    _with_inference(root, _block(root, variogram="window"))
    kriger = NeuralKriger.from_checkpoint(SPEC, root=root, device="cpu")
    window = _hidden_pred(kriger, sim)
    assert np.isfinite(window).all() and np.abs(window - trained).mean() > 1e-3
    from core.nn.features import prepare

    nodes = prepare(sim.stations)
    obs = np.isfinite(nodes.pm25)
    obs[:, ::2] = False
    fitted = kriger._refitted(nodes, obs, 0, 24)
    assert set(fitted) == {"ok_nugget", "ok_range_km"}
    assert (fitted["ok_nugget"], fitted["ok_range_km"]) != (hp["ok_nugget"], hp["ok_range_km"])
    # the hidden stations' values (the engine's infer blanks them before the kriger; here they reach it) must not
    # move the fit
    poisoned = dataclasses.replace(nodes, pm25=np.where(obs, nodes.pm25, 999.0))
    assert kriger._refitted(poisoned, obs, 0, 24) == fitted


@pytest.mark.parametrize("range_km, refits", [(5000.0, True), (5.0, False)])
def test_auto_variogram_refits_only_a_network_narrower_than_the_trained_range(saved, sim, range_km,
                                                                              refits) -> None:
    """``variogram: auto`` refits where the observed network's widest pair is shorter than the trained range (then
    exactly as ``window`` does) and keeps the trained variogram elsewhere; a hidden station far away does not
    widen the network (only observed stations count)."""
    from core.geo import haversine_km
    from core.nn.features import prepare

    _, module, hp = saved
    hp = hp | {"ok_range_km": range_km}
    nodes = prepare(sim.stations)
    obs = np.isfinite(nodes.pm25)
    auto = NeuralKriger(SPEC, module, hp | {"variogram": "auto"}, device="cpu")
    window = NeuralKriger(SPEC, module, hp | {"variogram": "window"}, device="cpu")
    assert auto._refitted(nodes, obs, 0, 24) == (window._refitted(nodes, obs, 0, 24) if refits else {})
    # the network's two farthest stations; hiding one of them shortens the widest observed pair
    d = haversine_km(nodes.lat, nodes.lon, nodes.lat, nodes.lon)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    rest = np.delete(d, [i], axis=0)[:, np.r_[0:i, i + 1:len(d)]]
    cut = (d.max() + rest.max()) / 2  # a range between the two widths
    gated = NeuralKriger(SPEC, module, hp | {"ok_range_km": cut, "variogram": "auto"}, device="cpu")
    assert not gated._refits(nodes, obs, 0, 24)
    hidden = obs.copy()
    hidden[:, i] = False
    assert gated._refits(nodes, hidden, 0, 24)


@pytest.mark.parametrize("lat, lon, range_km, narrower", [
    ([39.9, 39.9], [116.0, 116.5], 100.0, True),   # ~43 km apart
    ([39.9, 39.9], [116.0, 118.0], 100.0, False),  # ~171 km apart
    ([39.9, 40.0, 38.9], [116.0, 116.1, 116.0], 100.0, False),  # the third station is ~111 km south
    ([39.9], [116.0], 100.0, False),  # one station: no pair to judge by
    ([39.0, 39.85], [116.0, 116.0], 95.0, True),  # ~94.5 km due north: the N-S shortcut must not cut it short
    ([39.0, 39.86], [116.0, 116.0], 95.0, False),  # ~95.6 km
])
def test_narrower_than_range(lat, lon, range_km, narrower) -> None:
    from core.nn.models.spin import narrower_than_range

    assert narrower_than_range({"ok_range_km": range_km}, np.array(lat), np.array(lon)) is narrower


def test_unknown_variogram_setting_is_refused(saved) -> None:
    from core.errors import InvalidRequest

    _, module, hp = saved
    with pytest.raises(InvalidRequest, match=r"variogram='hourly' is not one of trained, window, auto"):
        NeuralKriger(SPEC, module, hp | {"variogram": "hourly"}, device="cpu")


@pytest.mark.parametrize("predict, refused", [(12, False), (8, True)])
def test_chunk_hours_is_refused_for_a_model_that_reads_history(saved, predict, refused) -> None:
    """chunk_hours only recuts a window of a model without history; one with history would ignore it, so the
    kriger refuses it and says what to change instead of serving a setting that does nothing."""
    from core.errors import InvalidRequest

    _, module, hp = saved
    hp = hp | {"predict": predict, "chunk_hours": 24}
    if not refused:
        assert len(NeuralKriger(SPEC, module, hp, device="cpu")._chunks(0, 48)) == 2  # two 24-h chunks
        return
    with pytest.raises(InvalidRequest, match=r"chunk_hours=24 .* reads 4 h before each chunk .*card\.json"):
        NeuralKriger(SPEC, module, hp, device="cpu")


def test_tune_spin_over_training_runs_ships_the_best_run_with_its_settings(tmp_path, tiny_hp, sim) -> None:
    """`tune --model spin --run A --run B`: every run's checkpoint is scored on the same grid, including the
    PM2.5-only variant of a protocol; the run whose best setting has the lowest worst ratio to logok is copied to
    the models folder, its card listing both runs, and the inference block is written for that very model.pt."""
    import json

    from core.evaluation.tuning import tune_spin

    hp = SPEC.hparams(tiny_hp)
    runs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        run = tmp_path / f"r{seed}"
        save_checkpoint("spin", SPEC.arch_version, hp, SPEC.build(module_hparams(hp)),
                        {"seed": seed, "metrics": {"val_mae": 10.0 + seed, "best_epoch": 1}}, root=run)
        runs.append(run)
    stations = sim.stations.assign(pm10=sim.stations["pm25"] * 1.6)  # so that the PM2.5-only variant differs
    dest = tmp_path / "models"
    info = tune_spin(stations=stations, protocols=("holdout", "holdout:pm25-only"), ok_k=(10,), corr_scale=(0.5, 1.0),
                     root=dest, runs=runs, chunk_hours=(12, 24), variograms=("trained",))
    tried = info["checkpoints_tried"]  # every run at every chunk length
    assert [(t["seed"], t["chunk_hours"]) for t in tried] == [(0, 12), (0, 24), (1, 12), (1, 24)]
    assert len({t["worst_ratio_to_logok"] for t in tried}) == 4
    assert [t["aux_dropout"] for t in tried] == [hp["aux_dropout"]] * 4
    best = min(tried, key=lambda t: t["worst_ratio_to_logok"])
    shipped = dest / "spin"
    assert (shipped / "model.pt").read_bytes() == (runs[best["seed"]] / "spin" / "model.pt").read_bytes()
    card = json.loads((shipped / "card.json").read_text())
    assert card["chosen_seed"] == best["seed"] and [t["seed"] for t in card["seeds_tried"]] == [0, 1]
    # both lists name a run by the folder given to train --out, so the report can match them
    assert [t["run"] for t in card["seeds_tried"]] == [str(r) for r in runs]
    assert {t["run"] for t in tried} == {str(r) for r in runs}
    assert card["inference"]["hparams"] == {"ok_k": 10, "corr_scale": best["corr_scale"],
                                            "chunk_hours": best["chunk_hours"], "variogram": "trained"}
    cell = card["inference"]["val_mae"]["10"]["1.0"]
    assert cell["holdout"]["mae"] != cell["holdout:pm25-only"]["mae"]  # the auxiliary pollutants were removed
    assert NeuralKriger.from_checkpoint(SPEC, root=dest, device="cpu").module.corr_scale == best["corr_scale"]
    # the shipped checkpoint retuned alone (no runs): the runs' comparison stays on the card, dated by its tune
    first = card["inference"]
    tune_spin(stations=stations, protocols=("holdout", "holdout:pm25-only"), ok_k=(10,), corr_scale=(0.5, 1.0),
              root=dest, chunk_hours=(24,), variograms=("trained",))
    again = json.loads((shipped / "card.json").read_text())["inference"]
    assert again["hparams"]["chunk_hours"] == 24 and again["chunk_hours_tried"] == [24]
    assert again["checkpoints_tried"] == first["checkpoints_tried"]
    assert again["checkpoints_compared"] == first["created"]
    from core.evaluation.tuning import tune_summary

    assert again["earlier_tunes"] == [tune_summary(first)]  # what the first tune chose and tried stays on the card
    brief = again["earlier_tunes"][0]
    assert brief["chunk_hours_tried"] == [12, 24] and brief["ok_k_tried"] == [10]
    assert first["earlier_tunes"] == []  # a comparison of runs starts the record
    tune_spin(stations=stations, protocols=("holdout",), ok_k=(10,), corr_scale=(1.0,), root=dest, chunk_hours=(24,),
              variograms=("trained",))
    third = json.loads((shipped / "card.json").read_text())["inference"]
    assert third["earlier_tunes"] == [tune_summary(first), tune_summary(again)]  # oldest first
    # the shipped checkpoint compared again with a new run: the record of the runs the first tune compared moves to
    # the entry of the tune it belongs to, and seeds_tried / checkpoints_tried hold the new comparison
    from core.evaluation.tuning import compared_runs

    chosen = runs[best["seed"]]
    tune_spin(stations=stations, protocols=("holdout",), ok_k=(10,), corr_scale=(1.0,), root=dest,
              runs=[chosen, runs[1 - best["seed"]]], chunk_hours=(24,), variograms=("trained",))
    fourth = json.loads((shipped / "card.json").read_text())
    inf4 = fourth["inference"]
    assert inf4["earlier_tunes"][:2] == [tune_summary(first), tune_summary(again)]
    assert inf4["earlier_tunes"][2] == tune_summary(third) | compared_runs(third)
    assert [r["seed"] for r in inf4["earlier_tunes"][2]["runs_compared"]] == [t["seed"] for t in tried]
    assert inf4["earlier_tunes"][2]["runs_compared_at"] == first["created"]
    assert inf4["checkpoints_compared"] is None and len(inf4["checkpoints_tried"]) == 2
    # `--run shipped`: the checkpoint in the models folder takes part as a run, without copying it out first
    tune_spin(stations=stations, protocols=("holdout",), ok_k=(10,), corr_scale=(1.0,), root=dest,
              runs=["shipped", runs[1 - best["seed"]]], chunk_hours=(24,), variograms=("trained",))
    fifth = json.loads((shipped / "card.json").read_text())
    assert [t["run"] for t in fifth["seeds_tried"]] == [str(dest), str(runs[1 - best["seed"]])]
    assert [t["seed"] for t in fifth["seeds_tried"]] == [best["seed"], 1 - best["seed"]]


def test_unknown_protocol_variant_is_refused(sim) -> None:
    from core.engine.models import get_model
    from core.evaluation.tuning import _val_mae

    with pytest.raises(ValueError, match="unknown protocol variant 'no-wind'"):
        _val_mae(get_model("idw", calibrated=False), "holdout:no-wind", sim.stations)
