"""`python -m core tune --model idw|logok|spin`: choose settings on validation days (spin: run, ok_k, corr_scale)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from core.contracts.settings import DEFAULT_DATASET

TUNERS = {"idw": "tune_idw", "logok": "tune_logok", "spin": "tune_spin"}


def register(app: typer.Typer) -> None:
    @app.command("tune")
    def tune_cmd(
        model: str = typer.Option(..., "--model", help=f"One of: {', '.join(TUNERS)}."),
        dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset under <data>/raw/ "
                                                                       "(default cnemc_bth_2019)."),
        runs: list[Path] = typer.Option([], "--run", help="spin only, repeatable: a folder given to `train --out`. "
                                        "Every run is tuned and the best one on validation is shipped."),
    ) -> None:
        """IDW power per protocol, logok back-transform or spin's checkpoint, ok_k and corr_scale → card.json."""
        from core.errors import InvalidRequest
        from core.evaluation import tuning

        if model not in TUNERS:
            raise InvalidRequest(f"--model must be one of {', '.join(TUNERS)}, got '{model}'.")
        if runs and model != "spin":
            raise InvalidRequest(f"--run chooses among training runs of spin; {model} has no checkpoint to choose.")
        extra = {"runs": runs} if runs else {}
        info = getattr(tuning, TUNERS[model])(dataset=dataset or DEFAULT_DATASET, **extra)
        keep = {k: v for k, v in info.items() if k in ("power", "power_by_protocol", "backtransform", "ok_k",
                                                       "corr_scale", "checkpoints_tried", "val_mae",
                                                       "val_mae_by_protocol")}
        typer.echo(json.dumps(keep, indent=1))
