"""`python -m core train --model NAME ...`: train a neural model and write its checkpoint + card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def load_conf(name: str) -> dict:
    """Hyper-parameters from ``core/conf/<name>.yaml`` (empty when there is none)."""
    import yaml

    path = CONF_DIR / f"{name}.yaml"
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}


def register(app: typer.Typer) -> None:
    register_ablate(app)
    register_sim(app)

    @app.command("train")
    def train_cmd(
        model: str = typer.Option(..., "--model", help="Trainable model: spin, aqnet, ignnk."),
        dataset: Optional[str] = typer.Option(None, help="Dataset under <data>/raw (default cnemc_bth_2019)."),
        path: Optional[Path] = typer.Option(None, help="Any folder in a supported layout instead of --dataset."),
        device: str = typer.Option("auto", help="auto (CUDA when present), cpu or cuda."),
        epochs: Optional[int] = typer.Option(None, help="Maximum epochs (default from core/conf/<model>.yaml)."),
        max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Stop training after M minutes."),
        seed: int = typer.Option(0, help="Random seed (weights, batches, masks)."),
        ablation: Optional[str] = typer.Option(
            None, help="no-advection | no-diffusion | no-masking | no-init-loss | inferred-wind "
                       "(saved as <model>-<ablation>)."),
        steps: Optional[int] = typer.Option(None, "--steps-per-epoch", help="Batches per epoch."),
        out: Optional[Path] = typer.Option(None, help="Models folder (default assets/models)."),
    ) -> None:
        """Train with dynamic masking and validation early stopping; writes <out>/<model>/model.pt + card.json."""
        from core.data.load import load_stationset
        from core.engine.trainer import ABLATIONS, get_adapter, train

        if dataset is not None and path is not None:
            raise typer.BadParameter("give at most one of --dataset or --path")
        if ablation is not None and ablation not in ABLATIONS:
            raise typer.BadParameter(f"--ablation must be one of {', '.join(ABLATIONS)}")
        adapter = get_adapter(model)
        overrides = load_conf(model)
        if epochs is not None:
            overrides["epochs"] = epochs
        if steps is not None:
            overrides["steps_per_epoch"] = steps
        if ablation:
            overrides.update(ABLATIONS[ablation])
        name = dataset or (None if path else "cnemc_bth_2019")
        ds = load_stationset(dataset=name, path=path)
        res = train(adapter, ds, overrides=overrides, device=device, seed=seed, max_minutes=max_minutes,
                    out_root=out, save_as=f"{model}-{ablation}" if ablation else None,
                    dataset_name=name or str(path))
        typer.echo(json.dumps({"model": model, "ablation": ablation, "out": str(res.out_dir), **res.best},
                              ensure_ascii=False))


def run_ablations(model: str, protocol: str, dataset: str, max_minutes: float, seed: int, seeds: int,
                  which: list[str], out_root: Path) -> dict:
    """Train each ablation of ``model`` (same budget and seed), then score all of them — and the shipped
    full model — under ``protocol`` with IDW from the same runs. Ablated checkpoints go to ``out_root``."""
    from core.data.load import load_stationset
    from core.engine.neural_kriger import NeuralKriger
    from core.engine.trainer import ABLATIONS, get_adapter, train
    from core.evaluation.runner import evaluate

    adapter = get_adapter(model)
    ds = load_stationset(dataset=dataset)
    krigers = {model: NeuralKriger.from_checkpoint(adapter)}
    trained = {}
    for abl in which:
        overrides = {**load_conf(model), **ABLATIONS.get(abl, {})}  # "control": the full model, same budget
        res = train(adapter, ds, overrides=overrides, seed=seed, max_minutes=max_minutes, out_root=out_root,
                    save_as=f"{model}-{abl}", dataset_name=dataset)
        trained[abl] = res.best | {"train_minutes": res.history[-1]["minutes"] if res.history else 0.0,
                                   "epochs_run": len(res.history)}
        krigers[f"{model}-{abl}"] = NeuralKriger.from_checkpoint(adapter, root=out_root, name=f"{model}-{abl}")
    report: dict = {"model": model, "protocol": protocol, "dataset": dataset, "seed": seed,
                    "train_minutes_cap": max_minutes, "variants": {}}
    for name, kriger in krigers.items():
        rep = evaluate(name, protocol, dataset=dataset, seeds=seeds, baselines=("idw",), stations=ds,
                       models={name: kriger})
        report["variants"][name] = {"mae": rep["metrics"]["mae"], "rmse": rep["metrics"]["rmse"],
                                    "idw_mae": rep["baselines"]["idw"]["mae"], "ratio_to_idw": rep["ratio_to_idw"],
                                    "val": trained.get(name.removeprefix(f"{model}-"), kriger.card.get("metrics")),
                                    "by_season_mae": {s: m["mae"] for s, m in rep["by_season"].items()},
                                    "wind": rep["wind"],
                                    "runs": [{k: r[k] for k in ("seed", "hidden_stations", "mae")}
                                             for r in rep["runs"]],
                                    "idw_runs": [{k: r[k] for k in ("seed", "mae")}
                                                 for r in rep["baselines"]["idw"]["runs"]]}
    report["test_stations"] = rep["test_stations"]
    report["times"] = rep["times"]
    return report


def register_ablate(app: typer.Typer) -> None:
    @app.command("ablate")
    def ablate_cmd(
        model: str = typer.Option("spin", "--model", help="Model whose ablations to train (spin)."),
        protocol: str = typer.Option("mask-50", help="Evaluation protocol for every variant."),
        dataset: str = typer.Option("cnemc_bth_2019", help="Dataset under <data>/raw."),
        max_minutes: float = typer.Option(8.0, "--max-minutes", help="Training time cap per ablation."),
        seed: int = typer.Option(0, help="Training seed (same for every variant)."),
        seeds: int = typer.Option(2, help="Masking seeds of the protocol."),
        only: Optional[str] = typer.Option(
            None, help="Comma-separated subset of ablations; 'control' = the full model trained on the same budget."),
        json_out: Path = typer.Option(Path("assets/metrics/ablations.json"), "--json", help="Report path."),
        out: Optional[Path] = typer.Option(None, help="Folder for ablated checkpoints (default: cache dir)."),
    ) -> None:
        """Train the ablations (no-advection, no-diffusion, no-masking, no-init-loss, inferred-wind); score them vs
        the full model."""
        from core.engine.trainer import ABLATIONS
        from core.paths import cache_dir

        which = only.split(",") if only else list(ABLATIONS)
        bad = [w for w in which if w not in ABLATIONS and w != "control"]
        if bad:
            raise typer.BadParameter(f"unknown ablation(s) {bad}; choose from {', '.join(ABLATIONS)}")
        report = run_ablations(model, protocol, dataset, max_minutes, seed, seeds, which,
                               out or cache_dir() / "ablations")
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
        typer.echo(json.dumps({k: v["mae"] for k, v in report["variants"].items()}))


def run_sim_experiment(minutes: float, seed: int = 0) -> dict:
    """On the simulator (4 weeks, 0.1°, measured wind, AOD with cloud gaps): train ``spin`` with and without
    the AOD spatial-gradient loss (same seed and budget), then score the full truth grid and ``S_test`` on the
    test days (holdout masking) against IDW through the same ``infer(...)``."""
    import numpy as np

    from core.data.stationset import active_stations
    from core.data.synthetic import SimConfig, simulate
    from core.engine.infer import infer
    from core.engine.neural_kriger import NeuralKriger
    from core.engine.result import Window
    from core.engine.trainer import get_adapter, train
    from core.evaluation.splits import select_test_stations, time_split
    from core.registry import get_model

    cfg = SimConfig(start="2019-01-01T00:00", n_hours=24 * 28, res=0.1, seed=seed)
    sim = simulate(cfg)
    ds = sim.stations
    conf = {**load_conf("spin"), "train_margin_deg": None, "steps_per_epoch": 40, "aod_loss": 0.2}
    adapter = get_adapter("spin")
    out: dict = {"sim_config": cfg.to_json(), "train_minutes_cap": minutes, "seed": seed,
                 "stations": int(ds.sizes["station"]), "variants": {}}
    models = {}
    for name, aod in (("spin-aod", sim.aod_source), ("spin-noaod", None)):
        res = train(adapter, ds, overrides=conf, device="cpu", seed=seed, max_minutes=minutes, aod_source=aod,
                    save=False, progress=False)
        models[name] = NeuralKriger(adapter, res.module, res.hparams, device="cpu")
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


def register_sim(app: typer.Typer) -> None:
    @app.command("ablate-sim")
    def ablate_sim_cmd(
        max_minutes: float = typer.Option(3.0, "--max-minutes", help="Training time cap per variant."),
        seed: int = typer.Option(0, help="Simulation and training seed."),
        json_out: Path = typer.Option(Path("assets/metrics/ablations_sim.json"), "--json", help="Report path."),
    ) -> None:
        """Simulator: spin with vs without the AOD loss, grid MAE against the truth field vs IDW."""
        report = run_sim_experiment(max_minutes, seed)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
        typer.echo(json.dumps({k: v["grid_mae"] for k, v in report["variants"].items()}))
