"""`python -m core train --model NAME ...`: train a neural model and write its checkpoint + card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from core.contracts.settings import DEFAULT_DATASET

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def load_conf(name: str) -> dict:
    """Hyper-parameters from ``core/conf/<name>.yaml`` (empty when there is none)."""
    import yaml

    path = CONF_DIR / f"{name}.yaml"
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}


def parse_margin(text: str) -> float | None:
    """``--train-margin-deg``: 'all' (None: every station) or a non-negative number of degrees."""
    if text.strip().lower() == "all":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0:
        raise typer.BadParameter(f"--train-margin-deg must be 'all' or a number of degrees ≥ 0, got {text!r}")
    return value


def select_best(model: str, runs: list[Path], dest: Path | None = None) -> dict:
    """Ship the run with the lowest validation MAE among ``runs`` (folders holding ``<model>/card.json``).

    Copies its ``model.pt`` and card to ``dest/<model>`` (default assets/models) and records in the card
    every candidate's seed, validation MAE and minutes, and which one was chosen.
    """
    import shutil

    from core.engine.checkpoint import model_dir
    from core.errors import DataNotFound

    cands = []
    for run in runs:
        card_path = Path(run) / model / "card.json"
        if not card_path.is_file():
            raise DataNotFound(f"{card_path} not found: train with `python -m core train --model {model} --out {run}`.")
        card = json.loads(card_path.read_text())
        cands.append((card["metrics"]["val_mae"], Path(run) / model, card))
    val, src, card = min(cands, key=lambda c: c[0])
    card["seeds_tried"] = [{"seed": c["seed"], "val_mae": c["metrics"]["val_mae"],
                            "val_idw_mae": c["metrics"].get("val_idw_mae"), "best_epoch": c["metrics"]["best_epoch"],
                            "train_minutes": c.get("train_minutes"), "stopped": c.get("stopped"), "run": str(r)}
                           for _, r, c in cands]
    from core.contracts.registry import get_spec

    card.update({k: v for k, v in get_spec(model).notes.items() if k not in card})
    card["chosen_seed"] = card["seed"]
    card["selection"] = "lowest validation MAE (fixed hidden sets of the card's 'validation' block) among seeds_tried"
    out = model_dir(model, dest)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "model.pt", out / "model.pt")
    (out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return {"chosen_seed": card["seed"], "val_mae": val, "out": str(out), "seeds_tried": card["seeds_tried"]}


def register(app: typer.Typer) -> None:
    register_ablate(app)
    register_sim(app)

    @app.command("select")
    def select_cmd(
        model: str = typer.Option("spin", "--model", help="Trained model whose runs to compare."),
        runs: list[Path] = typer.Argument(..., help="Folders given to `train --out` (one per seed)."),
        out: Optional[Path] = typer.Option(None, help="Models folder to ship into (default assets/models)."),
    ) -> None:
        """Ship the best-on-validation run (e.g. one per seed) as the model's checkpoint; the card lists all."""
        typer.echo(json.dumps(select_best(model, runs, out), ensure_ascii=False))

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
            None, help="no-advection | no-diffusion | no-masking | no-init-loss | inferred-wind | no-terrain | "
                       "old-init | no-mp-mask | short-context | sparse-masks | control (saved as <model>-<ablation>)."),
        steps: Optional[int] = typer.Option(None, "--steps-per-epoch", help="Batches per epoch."),
        out: Optional[Path] = typer.Option(None, help="Models folder (default assets/models)."),
        margin: Optional[str] = typer.Option(
            None, "--train-margin-deg",
            help="Training graph: nodes within the BTH box grown by this many degrees, or 'all' for every "
                 "station of the dataset (default from core/conf/<model>.yaml)."),
        save_as: Optional[str] = typer.Option(None, "--save-as", help="Checkpoint folder name (default the model's)."),
        sparse_share: Optional[float] = typer.Option(
            None, "--sparse-share", min=0.0, max=1.0,
            help="Share of training windows whose hidden stations are whole 30-km neighbourhoods (shaped like "
                 "the sparse-30km protocol) instead of a random share (default from core/conf/<model>.yaml, 0)."),
        subnet: Optional[int] = typer.Option(
            None, "--subnet-size", min=2,
            help="Train each step on a random neighbourhood of this many stations (a national network: "
                 "~400); validation then runs on the stations within the BTH box grown by 2°."),
    ) -> None:
        """Train with dynamic masking and validation early stopping; writes <out>/<model>/model.pt + card.json."""
        from core.contracts.registry import get_spec
        from core.data.load import load_stationset
        from core.engine.trainer import ABLATIONS, train

        if dataset is not None and path is not None:
            raise typer.BadParameter("give at most one of --dataset or --path")
        if ablation is not None and ablation not in ABLATIONS and ablation != "control":
            raise typer.BadParameter(f"--ablation must be one of {', '.join(ABLATIONS)}, control")
        spec = get_spec(model)
        overrides = load_conf(model)
        if epochs is not None:
            overrides["epochs"] = epochs
        if steps is not None:
            overrides["steps_per_epoch"] = steps
        if ablation:
            overrides.update(ABLATIONS.get(ablation, {}))  # "control": the full model under its own name
        if margin is not None:
            overrides["train_margin_deg"] = parse_margin(margin)
        if sparse_share is not None:
            overrides["sparse_share"] = sparse_share
        if subnet is not None:
            overrides["subnet_size"] = subnet
        name = dataset or (None if path else DEFAULT_DATASET)
        ds = load_stationset(dataset=name, path=path)
        res = train(spec, ds, overrides=overrides, device=device, seed=seed, max_minutes=max_minutes,
                    out_root=out, save_as=save_as or (f"{model}-{ablation}" if ablation else None),
                    dataset_name=name or str(path))
        typer.echo(json.dumps({"model": model, "ablation": ablation, "out": str(res.out_dir), **res.best},
                              ensure_ascii=False))


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
    from core.contracts.registry import get_spec
    from core.data.load import load_stationset
    from core.engine.neural_kriger import NeuralKriger
    from core.engine.trainer import ABLATIONS, train
    from core.errors import CheckpointMismatch, DataNotFound
    from core.evaluation.runner import evaluate

    spec = get_spec(model)
    ds = load_stationset(dataset=dataset)
    krigers, trained = {}, {}
    try:
        krigers[model] = NeuralKriger.from_checkpoint(spec)
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
        krigers[name] = NeuralKriger.from_checkpoint(spec, root=root, name=name)
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


def register_ablate(app: typer.Typer) -> None:
    @app.command("ablate")
    def ablate_cmd(
        model: str = typer.Option("spin", "--model", help="Model whose ablations to train (spin)."),
        protocol: str = typer.Option("mask-50", help="Evaluation protocol for every variant."),
        dataset: str = typer.Option(DEFAULT_DATASET, help="Dataset under <data>/raw."),
        max_minutes: float = typer.Option(
            8.0, "--max-minutes", help="Training time cap per ablation; 0 = none (the step budget of "
                                       "core/conf/<model>.yaml only; each variant's steps_run is reported)."),
        seed: int = typer.Option(0, help="Training seed (same for every variant)."),
        seeds: int = typer.Option(2, help="Masking seeds of the protocol."),
        only: Optional[str] = typer.Option(
            None, help="Comma-separated subset of ablations; 'control' = the full model trained on the same budget."),
        json_out: Path = typer.Option(Path("assets/metrics/ablations_val.json"), "--json", help="Report path."),
        out: Optional[Path] = typer.Option(None, help="Folder for ablated checkpoints (default: cache dir)."),
        split: str = typer.Option("val", help="val (validation days, S_val scored: design choices) or test."),
        trained: Optional[str] = typer.Option(
            None, help="Reuse variants trained already: 'ablation=folder,...' (folders given to train --out)."),
    ) -> None:
        """Train the ablations (no-advection, no-diffusion, no-masking, no-init-loss, inferred-wind); score them vs
        the full model."""
        from core.engine.trainer import ABLATIONS
        from core.paths import cache_dir

        which = only.split(",") if only else list(ABLATIONS)
        bad = [w for w in which if w not in ABLATIONS and w != "control"]
        if bad:
            raise typer.BadParameter(f"unknown ablation(s) {bad}; choose from {', '.join(ABLATIONS)}")
        dirs = dict(item.split("=", 1) for item in trained.split(",")) if trained else None
        report = run_ablations(model, protocol, dataset, max_minutes, seed, seeds, which,
                               out or cache_dir() / "ablations", split=split, trained_dirs=dirs)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
        typer.echo(json.dumps({k: v["mae"] for k, v in report["variants"].items()}))


def run_sim_experiment(minutes: float, seed: int = 0) -> dict:
    """On the simulator (4 weeks, 0.1°, measured wind, AOD with cloud gaps): train ``spin`` with and without
    the AOD spatial-gradient loss (same seed and budget), then score the full truth grid and ``S_test`` on the
    test days (holdout masking) against IDW through the same ``infer(...)``."""
    import numpy as np

    from core.contracts.kriger import Window
    from core.contracts.registry import get_spec
    from core.contracts.stationset import active_stations
    from core.data.splits import select_test_stations, time_split
    from core.data.synthetic import SimConfig, simulate
    from core.engine.infer import infer
    from core.engine.models import get_model
    from core.engine.neural_kriger import NeuralKriger
    from core.engine.trainer import train

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
