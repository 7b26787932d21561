"""`python -m core calibrate --model NAME`: fit and ship a model's calibrated interval (validation days)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import typer

from core.contracts.settings import DEFAULT_DATASET


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate_cmd(
        model: str = typer.Option(..., "--model", help="Registry name (spin, aqnet, idw, ok, logok, …)."),
        dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset under <data>/raw/ "
                                                                       "(default cnemc_bth_2019)."),
        level: float = typer.Option(0.9, "--level", help="Nominal coverage of the interval, in (0, 1)."),
        no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
    ) -> None:
        """Split-conformal interval fitted on validation days at hidden non-test stations (intervals.json)."""
        from core.errors import InvalidRequest
        from core.evaluation.calibrate import calibrate
        from core.intervals import table_path

        if not 0.5 <= level < 1:
            raise InvalidRequest(f"--level must be in [0.5, 1), got {level}.")
        table = calibrate(model, dataset=dataset or DEFAULT_DATASET, level=level, progress=not no_progress)
        near = np.array([[2.0, 5.0, 10.0, 20.0, 35.0, 60.0]])
        lo, hi = table.bounds(np.full(near.shape, 50.0), near, np.array(["2019-01-15"], "datetime64[ns]"), near * 1.5)
        typer.echo(f"{model}: {table.meta['n_cells']} validation cells, level {level:.0%} → {table_path(model)}")
        typer.echo("  bounds of 50 µg/m³ in winter (median neighbour spread) by nearest-monitor distance "
                   + ", ".join(f"{d:.0f} km {a:.0f}–{b:.0f}" for d, a, b in zip(near[0], lo[0], hi[0], strict=True)))

