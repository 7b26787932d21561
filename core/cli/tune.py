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
        runs: list[Path] = typer.Option([], "--run", help="spin only, repeatable: a folder given to `train --out`, "
                                        "or 'shipped' for the checkpoint shipped now. Every run is tuned and the "
                                        "best one on validation is shipped (the models folder is in git: a "
                                        "replaced checkpoint stays in its history)."),
        ok_k: list[int] = typer.Option([], "--ok-k", help="spin only, repeatable: kriging-init neighbours to try "
                                       "(default 16, 24)."),
        corr_scale: list[float] = typer.Option([], "--corr-scale", help="spin only, repeatable: shares of the "
                                               "learned correction to try, in [0, 1] (default 0.5 … 1.0)."),
        chunk_hours: list[int] = typer.Option([], "--chunk-hours", help="spin only, repeatable: longest inference "
                                              "chunk in hours; windows are read in near-equal chunks "
                                              "(default 48, 72)."),
        variogram: list[str] = typer.Option([], "--variogram", help="spin only, repeatable: the kriging init's "
                                            "variogram, 'trained' (fitted on training days), 'window' (refitted "
                                            "on each window's observed stations) or 'auto' (refitted only where "
                                            "they span less than the trained range) (default all three)."),
    ) -> None:
        """IDW power per protocol, logok back-transform or spin's checkpoint, ok_k and corr_scale → card.json."""
        from core.errors import InvalidRequest
        from core.evaluation import tuning

        if model not in TUNERS:
            raise InvalidRequest(f"--model must be one of {', '.join(TUNERS)}, got '{model}'.")
        if (runs or ok_k or corr_scale or chunk_hours or variogram) and model != "spin":
            raise InvalidRequest(f"--run, --ok-k, --corr-scale, --chunk-hours and --variogram are spin's; {model} "
                                 "has no checkpoint or such setting to choose.")
        if any(v not in tuning.SPIN_VARIOGRAMS for v in variogram):
            raise InvalidRequest(f"--variogram values must be among {', '.join(tuning.SPIN_VARIOGRAMS)}, "
                                 f"got {variogram}.")
        if any(not 0 <= s <= 1 for s in corr_scale):
            raise InvalidRequest(f"--corr-scale values must lie in [0, 1], got {corr_scale}.")
        if any(k < 1 for k in ok_k):
            raise InvalidRequest(f"--ok-k values must be ≥ 1, got {ok_k}.")
        if any(h < 1 for h in chunk_hours):
            raise InvalidRequest(f"--chunk-hours values must be ≥ 1, got {chunk_hours}.")
        extra = ({"runs": runs} if runs else {}) | ({"ok_k": tuple(ok_k)} if ok_k else {}) | (
            {"corr_scale": tuple(corr_scale)} if corr_scale else {}) | (
            {"chunk_hours": tuple(chunk_hours)} if chunk_hours else {}) | (
            {"variograms": tuple(variogram)} if variogram else {})
        info = getattr(tuning, TUNERS[model])(dataset=dataset or DEFAULT_DATASET, **extra)
        keep = {k: v for k, v in info.items() if k in ("power", "power_by_protocol", "backtransform", "ok_k",
                                                       "corr_scale", "chunk_hours", "variogram", "checkpoints_tried",
                                                       "val_mae", "val_mae_by_protocol")}
        typer.echo(json.dumps(keep, indent=1))
