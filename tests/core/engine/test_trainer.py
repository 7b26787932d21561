"""Trainer: S_test never reaches training, same seed → same weights, AOD loss only with AOD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import core.engine.trainer as trainer_mod
from core.contracts.registry import get_spec
from core.contracts.stationset import active_stations
from core.data.splits import select_test_stations
from core.engine.device import resolve_device
from core.engine.trainer import ABLATIONS, prepare_training_data, train


def test_s_test_never_reaches_training(sim, tiny_hp, monkeypatch: pytest.MonkeyPatch) -> None:
    s_test = set(select_test_stations(active_stations(sim.stations)))
    assert s_test
    seen: set[str] = set()
    real = trainer_mod.make_batch

    def spy(nodes, *args, **kwargs):  # every batch the trainer builds, training and validation
        seen.update(nodes.codes.tolist())
        return real(nodes, *args, **kwargs)

    monkeypatch.setattr(trainer_mod, "make_batch", spy)
    res = train(get_spec("spin"), sim.stations, overrides=tiny_hp, device="cpu", save=False, progress=False)
    assert seen and not seen & s_test
    assert set(res.test_codes) == s_test


def test_training_data_excludes_s_test(sim) -> None:
    data = prepare_training_data(sim.stations, 12)
    assert not set(data.nodes.codes) & set(data.test_codes)
    assert len(data.train_starts) and len(data.val_starts)


def test_same_seed_same_result(sim, tiny_hp) -> None:
    runs = [train(get_spec("spin"), sim.stations, overrides=tiny_hp, device="cpu", seed=7, save=False,
                  progress=False) for _ in range(2)]
    for k, v in runs[0].module.state_dict().items():
        torch.testing.assert_close(v, runs[1].module.state_dict()[k], rtol=0, atol=0)
    assert runs[0].history == [dict(h, minutes=runs[0].history[i]["minutes"]) for i, h in enumerate(runs[1].history)]


def test_aod_loss_runs_and_changes_result(sim, tiny_hp) -> None:
    hp = dict(tiny_hp, aod_loss=1.0)
    with_aod = train(get_spec("spin"), sim.stations, overrides=hp, device="cpu", seed=1, save=False,
                     progress=False, aod_source=sim.aod_source)
    without = train(get_spec("spin"), sim.stations, overrides=hp, device="cpu", seed=1, save=False,
                    progress=False)
    assert with_aod.hparams["aod_loss"] == 1.0 and without.hparams["aod_loss"] == 0.0
    a, b = with_aod.module.state_dict(), without.module.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


# What each ablation changes, read off the trained module or the training steps it ran (how many masks the
# trainer's samplers drew, the init-loss weight the loss was given). A new ablation must say its effect here.
ABLATION_EFFECTS = {
    "inferred-wind": lambda m, seen: not m.use_measured,
    "no-advection": lambda m, seen: not m.use_a and not any(layer.use_a for layer in m.layers),
    "no-diffusion": lambda m, seen: not m.use_d and not any(layer.use_d for layer in m.layers),
    "no-init-loss": lambda m, seen: seen["init_weight"] == {0.0},
    "no-masking": lambda m, seen: seen["sampled"] == 0,  # one fixed hidden set instead of a draw per step
    "no-mp-mask": lambda m, seen: not m.mp_observed_only,
    "no-terrain": lambda m, seen: not m.use_terrain and not m.log_terrain_km.requires_grad,
    "old-init": lambda m, seen: m.init_mode == "idw",
    "short-context": lambda m, seen: len(m.tcn.layers) == 3,
    "sparse-masks": lambda m, seen: seen["clusters"] > 0,
    # two more encoder inputs: the leave-one-out log-OK and the nearest observed distance
    "loo-inputs": lambda m, seen: m.loo_inputs and m.inp.in_features == type(m)(
        hidden=m.inp.out_features, use_terrain=m.use_terrain).inp.in_features + 2,
}


def _train_spied(stations, hp: dict, mp: pytest.MonkeyPatch) -> tuple[trainer_mod.TrainResult, dict]:
    """One spin training run, counting the trainer's mask draws and recording its init-loss weights."""
    seen: dict = {"sampled": 0, "clusters": 0, "init_weight": set()}
    real_sample, real_clusters, real_loss = (trainer_mod.sample_hidden, trainer_mod.sample_clusters,
                                             trainer_mod.composite_loss)

    def sample(*args, **kwargs):
        seen["sampled"] += 1
        return real_sample(*args, **kwargs)

    def clusters(*args, **kwargs):
        seen["clusters"] += 1
        return real_clusters(*args, **kwargs)

    def loss(out, batch, weights):
        seen["init_weight"].add(weights.init)
        return real_loss(out, batch, weights)

    mp.setattr(trainer_mod, "sample_hidden", sample)
    mp.setattr(trainer_mod, "sample_clusters", clusters)
    mp.setattr(trainer_mod, "composite_loss", loss)
    res = train(get_spec("spin"), stations, overrides=hp, device="cpu", save=False, progress=False)
    return res, seen


ABLATION_BUDGET = {"epochs": 1, "steps_per_epoch": 2}


@pytest.fixture(scope="module")
def control_run(sim):
    """The same short training without any ablation: none of the effects may hold for it."""
    from tests.core.engine.conftest import TINY_HP

    with pytest.MonkeyPatch.context() as mp:
        return _train_spied(sim.stations, {**TINY_HP, **ABLATION_BUDGET}, mp)


def test_every_ablation_says_its_effect() -> None:
    assert set(ABLATION_EFFECTS) == set(ABLATIONS)


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
def test_ablations_train_and_take_effect(sim, tiny_hp, control_run, ablation: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    hp = {**tiny_hp, **ABLATION_BUDGET, **ABLATIONS[ablation]}
    res, seen = _train_spied(sim.stations, hp, monkeypatch)
    assert np.isfinite(res.history[0]["train_loss"])
    assert {k: res.hparams[k] for k in ABLATIONS[ablation]} == ABLATIONS[ablation]  # recorded for the card
    effect = ABLATION_EFFECTS[ablation]
    assert effect(res.module, seen), (ablation, seen)
    assert not effect(control_run[0].module, control_run[1]), (ablation, control_run[1])


def test_cuda_request_without_gpu_is_clear() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from core.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="no CUDA"):
        resolve_device("cuda")


def test_validation_hidden_sets_fixed_across_seeds(sim, tiny_hp) -> None:
    """val_sets > 0: the same hidden stations for every training seed, recorded in the card."""
    from core.engine.trainer import validation_card, validation_hidden_sets

    hp = get_spec("spin").hparams({**tiny_hp, "val_sets": 2})
    data = prepare_training_data(sim.stations, hp["window"])
    sets = validation_hidden_sets(data, hp)
    assert len(sets) == 2 and not np.array_equal(sets[0], sets[1])
    bth = data.nodes.is_bth if data.nodes.is_bth.any() else np.ones(data.nodes.n_nodes, bool)
    assert all(s.sum() == round(0.5 * bth.sum()) and not (s & ~bth).any() for s in sets)
    runs = [train(get_spec("spin"), sim.stations, overrides={**hp, "epochs": 1, "steps_per_epoch": 0},
                  device="cpu", seed=seed, save=False, progress=False, data=data) for seed in (0, 0)]
    assert runs[0].history[0]["val_n"] > 0
    card = validation_card(data, hp)
    assert card["hidden_sets"][0]["hidden"] == [str(c) for c in data.nodes.codes[sets[0]]]


def test_cosine_schedule_decays_within_budget(sim, tiny_hp, monkeypatch: pytest.MonkeyPatch) -> None:
    lrs: list[float] = []
    real_step = torch.optim.AdamW.step

    def step(self, *args, **kwargs):  # the learning rate each optimizer step is taken with
        lrs.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    hp = {**tiny_hp, "schedule": "cosine", "epochs": 2, "steps_per_epoch": 4, "warmup_steps": 2}
    res = train(get_spec("spin"), sim.stations, overrides=hp, device="cpu", save=False, progress=False)
    assert len(res.history) == 2 and np.isfinite(res.best["val_mae"])
    assert res.stopped == "step budget" and len(lrs) == 8
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.2 * lrs[0]  # decays toward min_lr_frac (0.05)


def test_steps_run_is_the_budget_taken(sim, tiny_hp, tmp_path) -> None:
    """The card and result record the optimizer steps taken, so ablations can be compared at equal steps."""
    import json

    hp = {**tiny_hp, "epochs": 2, "steps_per_epoch": 3, "patience": 10}
    res = train(get_spec("spin"), sim.stations, overrides=hp, device="cpu", progress=False, out_root=tmp_path)
    assert res.steps_run == 6 and res.stopped == "epochs"
    assert json.loads((res.out_dir / "card.json").read_text())["steps_run"] == 6


def test_no_advection_ablation_removes_the_advection_path(sim, tiny_hp) -> None:
    """``no-advection`` takes effect: no wind head output, zero advective influence, other predictions."""
    from core.nn.features import make_batch

    runs = {abl: train(get_spec("spin"), sim.stations, overrides={**tiny_hp, **ABLATIONS.get(abl, {})},
                       device="cpu", seed=3, save=False, progress=False) for abl in ("control", "no-advection")}
    assert runs["no-advection"].hparams["use_advection"] is False and runs["control"].hparams["use_advection"]
    data = prepare_training_data(sim.stations, tiny_hp["window"])
    observed = np.ones((1, tiny_hp["window"], data.nodes.n_nodes), bool)
    observed[..., ::2] = False
    batch = make_batch(data.nodes, data.val_starts[:1], tiny_hp["window"], observed, aod=None, device="cpu")
    with torch.no_grad():
        full, abl = (runs[a].module.eval()(batch) for a in ("control", "no-advection"))
    assert "wind_u" in full and "wind_u" not in abl
    assert float(full["influence_advection"].abs().sum()) > 0 and float(abl["influence_advection"].abs().sum()) == 0
    assert not torch.allclose(full["pred"], abl["pred"])


def test_sparse_share_trains_on_cluster_masks(sim, tiny_hp, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sparse_share`` takes effect: cluster masks are drawn for training windows and the weights differ;
    0 (the default) draws none and leaves the random stream, hence the result, as before."""
    calls: list[int] = []
    real = trainer_mod.sample_clusters

    def spy(rng, cand, dist, n, *args, **kwargs):
        calls.append(n)
        return real(rng, cand, dist, n, *args, **kwargs)

    monkeypatch.setattr(trainer_mod, "sample_clusters", spy)
    runs = {share: train(get_spec("spin"), sim.stations, overrides={**tiny_hp, "sparse_share": share},
                         device="cpu", seed=5, save=False, progress=False) for share in (0.0, 1.0)}
    assert sum(calls) == tiny_hp["epochs"] * tiny_hp["steps_per_epoch"] * tiny_hp["batch_size"]
    a, b = runs[0.0].module.state_dict(), runs[1.0].module.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["spin", "aqnet", "ignnk"])
def test_spec_found_in_a_fresh_interpreter(name):
    # the registry lists names without importing model modules, so get_spec must import the one it needs;
    # in a shared pytest process another test may already have imported it, hence a fresh interpreter
    import subprocess
    import sys

    from core.paths import REPO_ROOT

    code = f"from core.contracts.registry import get_spec; print(get_spec({name!r}).name)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == name


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_aux_dropout_blanks_whole_windows_of_auxiliary_pollutants(sim, tiny_hp, share: float) -> None:
    """``aux_dropout`` blanks every auxiliary pollutant at every node of about that share of training windows
    (as a folder that reports PM2.5 only); 0 leaves the batches exactly as before."""
    from core.contracts.model_spec import TRAIN_DEFAULTS
    from core.engine.trainer import BatchSampler

    hp = {**TRAIN_DEFAULTS, **tiny_hp, "batch_size": 64}
    stations = sim.stations.assign(pm10=sim.stations["pm25"] * 1.6)  # the simulator reports PM2.5 only
    data = prepare_training_data(stations, hp["window"])
    plain = BatchSampler(data, hp, seed=3, device=torch.device("cpu")).next()
    got = BatchSampler(data, {**hp, "aux_dropout": share}, seed=3, device=torch.device("cpu")).next()
    assert float(plain["aux"].abs().amax(dim=(1, 2, 3)).min()) > 0  # every window has auxiliary values to blank
    blank = got["aux"].abs().amax(dim=(1, 2, 3)) == 0
    torch.testing.assert_close(got["aux"][~blank], plain["aux"][~blank])  # the rest untouched
    torch.testing.assert_close(got["x"], plain["x"])
    if share == 0.0:
        assert not blank.any()
    elif share == 1.0:
        assert blank.all()
    else:
        assert 0.25 < float(blank.float().mean()) < 0.75
