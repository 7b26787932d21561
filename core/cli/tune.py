"""`python -m core tune --model idw|logok|spin`: choose settings on validation days (spin: ok_k, corr_scale)."""

from __future__ import annotations

import json
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
    ) -> None:
        """IDW power per protocol, logok back-transform or spin's ok_k and corr_scale, by validation MAE → card.json."""
        from core.errors import InvalidRequest
        from core.evaluation import tuning

        if model not in TUNERS:
            raise InvalidRequest(f"--model must be one of {', '.join(TUNERS)}, got '{model}'.")
        info = getattr(tuning, TUNERS[model])(dataset=dataset or DEFAULT_DATASET)
        keep = {k: v for k, v in info.items() if k in ("power", "power_by_protocol", "backtransform", "ok_k",
                                                       "corr_scale", "val_mae", "val_mae_by_protocol")}
        typer.echo(json.dumps(keep, indent=1))
