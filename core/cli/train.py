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
            None, help="no-advection | no-diffusion | no-masking | no-init-loss (saved as <model>-<ablation>)."),
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
