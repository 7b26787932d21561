"""`python -m core train --model NAME ...`: train a neural model and write its checkpoint + card; `select` ships
the best run; `ensemble` assembles runs into one checkpoint; `ablate` / `ablate-sim` run the experiments of
:mod:`core.evaluation.experiments`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from core.contracts.settings import DEFAULT_DATASET


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
        from core.engine.seed_selection import select_best

        typer.echo(json.dumps(select_best(model, runs, out), ensure_ascii=False))

    @app.command("ensemble")
    def ensemble_cmd(
        runs: list[Path] = typer.Option(..., "--run", help="Repeatable: folders given to `train --out`, one per "
                                        "seed, trained with the same settings (at least two)."),
        out: Path = typer.Option(..., "--out", help="Folder to write <out>/<model>/ into: a run for `tune --run`."),
        model: str = typer.Option("spin", "--model", help="Trained model whose runs to assemble."),
        device: str = typer.Option("cpu", help="Device for the ensemble's validation score: cpu, cuda or auto."),
    ) -> None:
        """Assemble trained runs into one checkpoint serving their mean correction; the card lists the members and
        the ensemble's own validation MAE (the trainer's windows and hidden sets)."""
        from core.engine.ensemble import assemble

        card = assemble(model, runs, out, device=device)
        typer.echo(json.dumps({"out": str(out / model), "seed": card["seed"], "val_mae": card["metrics"]["val_mae"],
                               "members": [{k: m[k] for k in ("seed", "val_mae")} for m in card["members"]]}))

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
                       "old-init | no-mp-mask | short-context | sparse-masks | loo-inputs | control "
                       "(saved as <model>-<ablation>)."),
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
        aux_dropout: Optional[float] = typer.Option(
            None, "--aux-dropout", min=0.0, max=1.0,
            help="Share of training windows with every auxiliary pollutant (PM10, NO2, SO2, O3, CO) blanked, so the "
                 "model also serves folders that report PM2.5 only (default from core/conf/<model>.yaml, 0)."),
        subnet: Optional[int] = typer.Option(
            None, "--subnet-size", min=2,
            help="Train each step on a random neighbourhood of this many stations (a national network: "
                 "~400); validation then runs on the stations within the BTH box grown by 2°."),
    ) -> None:
        """Train with dynamic masking and validation early stopping; writes <out>/<model>/model.pt + card.json."""
        from core.contracts.registry import get_spec
        from core.data.load import load_stationset
        from core.engine.conf import load_conf
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
        if aux_dropout is not None:
            overrides["aux_dropout"] = aux_dropout
        if subnet is not None:
            overrides["subnet_size"] = subnet
        name = dataset or (None if path else DEFAULT_DATASET)
        ds = load_stationset(dataset=name, path=path)
        res = train(spec, ds, overrides=overrides, device=device, seed=seed, max_minutes=max_minutes,
                    out_root=out, save_as=save_as or (f"{model}-{ablation}" if ablation else None),
                    dataset_name=name or str(path))
        typer.echo(json.dumps({"model": model, "ablation": ablation, "out": str(res.out_dir), **res.best},
                              ensure_ascii=False))


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
        from core.evaluation.experiments import run_ablations
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


def register_sim(app: typer.Typer) -> None:
    @app.command("ablate-sim")
    def ablate_sim_cmd(
        max_minutes: float = typer.Option(3.0, "--max-minutes", help="Training time cap per variant."),
        seed: int = typer.Option(0, help="Simulation and training seed."),
        json_out: Path = typer.Option(Path("assets/metrics/ablations_sim.json"), "--json", help="Report path."),
    ) -> None:
        """Simulator: spin with vs without the AOD loss, grid MAE against the truth field vs IDW."""
        from core.evaluation.experiments import run_sim_experiment

        report = run_sim_experiment(max_minutes, seed)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
        typer.echo(json.dumps({k: v["grid_mae"] for k, v in report["variants"].items()}))
