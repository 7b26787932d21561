"""Experiments that train model variants and score them: the ablation study and the simulator's AOD study.

Both train with :func:`core.engine.trainer.train` and score through the same ``infer(...)`` as every other
model (:func:`core.evaluation.runner.evaluate` for the ablations), so a variant is compared with the shipped
model and IDW on the same hidden sets and hours.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.contracts.kriger import Window
from core.contracts.registry import get_spec
from core.contracts.stationset import active_stations
from core.data.load import load_stationset
from core.data.splits import select_test_stations, time_split
from core.data.synthetic import SimConfig, simulate
from core.engine.conf import load_conf
from core.engine.infer import infer
from core.engine.models import get_model, load_learned
from core.engine.neural_kriger import NeuralKriger
from core.engine.trainer import ABLATIONS, train
from core.errors import CheckpointMismatch, DataNotFound
from core.evaluation.runner import evaluate


def budget_of(card: dict) -> dict:
    """What a trained variant's budget was, from its card: optimizer steps taken, steps per epoch, why it stopped.

    Cards from before ``steps_run`` was recorded: epochs × steps per epoch unless a time cap cut an epoch short
    (then the count is unknown, None). Variants compared in one report should share the step budget."""
    hist, hp = card.get("history", []), card.get("hparams", {})
    stopped = card.get("stopped")
    steps = card.get("steps_run")
    if steps is None and stopped and not str(stopped).startswith("time cap"):
        steps = len(hist) * int(hp.get("steps_per_epoch", 0))
    return {"steps_run": steps, "steps_per_epoch": hp.get("steps_per_epoch"), "stopped": stopped}


def shipped_val(card: dict) -> dict:
    """The shipped checkpoint's validation record for an ablation report: its card's metrics and budget."""
    return {**(card.get("metrics") or {}), **budget_of(card)}


def run_ablations(model: str, protocol: str, dataset: str, max_minutes: float, seed: int, seeds: int,
                  which: list[str], out_root: Path, split: str = "val", trained_dirs: dict | None = None) -> dict:
    """Train each ablation of ``model`` (same budget and seed), then score all of them — and the shipped
    full model — under ``protocol`` with IDW from the same runs. Ablated checkpoints go to ``out_root``.

    ``split="val"``: scored on validation days with ``S_test`` removed and ``S_val`` hidden/scored as the
    protocol hides ``S_test`` (where design choices are made); ``"test"``: on test days.
    ``trained_dirs``: {ablation: folder} of variants already trained (``train --ablation … --out``), reused.
    """
    spec = get_spec(model)
    ds = load_stationset(dataset=dataset)
    krigers, trained = {}, {}
    try:
        krigers[model] = load_learned(spec)
    except (CheckpointMismatch, DataNotFound) as exc:  # not shipped yet for this architecture: variants only
        trained[model] = {"skipped": str(exc)}
    for abl in which:
        name = f"{model}-{abl}"
        if trained_dirs and abl in trained_dirs:
            root = Path(trained_dirs[abl])
            card = json.loads((root / name / "card.json").read_text())
            trained[abl] = {**card["metrics"], "train_minutes": card.get("train_minutes"),
                            "epochs_run": len(card.get("history", [])), "seed": card.get("seed"),
                            **budget_of(card)}
        else:
            overrides = {**load_conf(model), **ABLATIONS.get(abl, {})}  # "control": the full model, same budget
            res = train(spec, ds, overrides=overrides, seed=seed, max_minutes=max_minutes, out_root=out_root,
                        save_as=name, dataset_name=dataset)
            trained[abl] = res.best | {"train_minutes": res.history[-1]["minutes"] if res.history else 0.0,
                                       "epochs_run": len(res.history), "seed": seed, "steps_run": res.steps_run,
                                       "steps_per_epoch": res.hparams["steps_per_epoch"], "stopped": res.stopped}
            root = out_root
        krigers[name] = load_learned(spec, root=root, name=name)
    # The architecture version goes with the figures: a report from an older version must not pass for this one.
    report: dict = {"model": model, "arch": spec.arch_version,
                    "protocol": protocol, "dataset": dataset, "split": split, "seed": seed,
                    "train_minutes_cap": max_minutes, "ablations": {a: ABLATIONS.get(a, {}) for a in which},
                    "variants": {}}
    for name, kriger in krigers.items():
        rep = evaluate(name, protocol, dataset=dataset, seeds=seeds, baselines=("idw",), stations=ds,
                       models={name: kriger}, split=split)
        report["variants"][name] = {"mae": rep["metrics"]["mae"], "rmse": rep["metrics"]["rmse"],
                                    "idw_mae": rep["baselines"]["idw"]["mae"], "ratio_to_idw": rep["ratio_to_idw"],
                                    "val": trained.get(name.removeprefix(f"{model}-"), shipped_val(kriger.card)),
                                    "by_season_mae": {s: m["mae"] for s, m in rep["by_season"].items()},
                                    "wind": rep["wind"],
                                    "runs": [{k: r[k] for k in ("seed", "hidden_stations", "mae")}
                                             for r in rep["runs"]],
                                    "idw_runs": [{k: r[k] for k in ("seed", "mae")}
                                                 for r in rep["baselines"]["idw"]["runs"]]}
    report["test_stations"] = rep["test_stations"]
    if split == "val":
        report["val_stations"] = rep.get("val_stations")
        report["note"] = ("validation days (21–23 of each month), S_test removed, S_val hidden and scored as the "
                          "protocol hides S_test; 'val' = the trainer's own early-stopping score (fixed hidden sets)")
    report["times"] = rep["times"]
    # the trainer's early-stopping validation (fixed hidden sets, windows) of each variant, from its card
    report["trainer_validation"] = {n: k.card.get("validation") for n, k in krigers.items() if k.card.get("validation")}
    report["skipped"] = {k: v["skipped"] for k, v in trained.items() if isinstance(v, dict) and "skipped" in v}
    return report


def run_sim_experiment(minutes: float, seed: int = 0) -> dict:
    """On the simulator (4 weeks, 0.1°, measured wind, AOD with cloud gaps): train ``spin`` with and without
    the AOD spatial-gradient loss (same seed and budget), then score the full truth grid and ``S_test`` on the
    test days (holdout masking) against IDW through the same ``infer(...)``."""
    cfg = SimConfig(start="2019-01-01T00:00", n_hours=24 * 28, res=0.1, seed=seed)
    sim = simulate(cfg)
    ds = sim.stations
    conf = {**load_conf("spin"), "train_margin_deg": None, "steps_per_epoch": 40, "aod_loss": 0.2}
    spec = get_spec("spin")
    out: dict = {"sim_config": cfg.to_json(), "train_minutes_cap": minutes, "seed": seed,
                 "stations": int(ds.sizes["station"]), "variants": {}}
    models = {}
    for name, aod in (("spin-aod", sim.aod_source), ("spin-noaod", None)):
        res = train(spec, ds, overrides=conf, device="cpu", seed=seed, max_minutes=minutes, aod_source=aod,
                    save=False, progress=False)
        models[name] = NeuralKriger(spec, res.module, res.hparams, device="cpu")
        out["variants"][name] = {"val": res.best, "aod_loss_weight": res.hparams["aod_loss"]}
    models["idw"] = get_model("idw")
    s_test = select_test_stations(active_stations(ds))
    codes = ds["station"].values.astype(str)
    observed, cols = ~np.isin(codes, s_test), np.isin(codes, s_test)
    times = ds["time"].values
    test = times[time_split(times)["test"]]
    t0, t1 = test[0], test[-1]
    truth = sim.truth["pm25"].sel(time=slice(t0, t1)).values
    st_truth = ds["pm25"].sel(time=slice(t0, t1)).values[:, cols]
    for name, m in models.items():
        res = infer(m, ds, observed, sim.grid, Window(t0, t1))
        st = res.station_pred.values[:, cols]
        ok = np.isfinite(st) & np.isfinite(st_truth)
        out["variants"].setdefault(name, {}).update({
            "grid_mae": float(np.nanmean(np.abs(res.grid["pm25"].values - truth))),
            "s_test_mae": float(np.abs(st - st_truth)[ok].mean()), "wind": res.wind})
    idw = out["variants"]["idw"]["grid_mae"]
    for v in out["variants"].values():
        v["grid_mae_ratio_to_idw"] = v["grid_mae"] / idw
    out.update(test_stations=s_test, test_hours=[str(t0), str(t1)])
    return out
