"""`python -m core exposure`: population-weighted PM2.5 of the 2020 census units, thresholds, disparity."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional

import typer

from core.cli.outputs import check_output_file
from core.contracts.settings import DEFAULT_DATASET


def _finite(obj):
    """JSON-safe copy: NaN/inf → null (json.dumps would write invalid NaN)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def unit_csv(table) -> str:
    """Per-unit table as CSV text (no geometry), rounded for reading."""
    df = table.drop(columns="geometry").copy()
    for c in df.columns:
        if df[c].dtype.kind == "f" and c != "population":
            df[c] = df[c].round(4)
    return df.to_csv(index=False)


def register(app: typer.Typer) -> None:
    @app.command("exposure")
    def exposure(
        start: str = typer.Option(..., help="First day (Beijing time), e.g. 2019-01-01."),
        end: str = typer.Option(..., help="Last day, inclusive, e.g. 2019-01-31."),
        model: str = typer.Option(..., help="Registry name of the model, e.g. idw."),
        json_out: Path = typer.Option(..., "--json", help="Output JSON; the per-unit table goes beside it (.csv)."),
        dataset: Optional[str] = typer.Option(DEFAULT_DATASET, help="Dataset under <data dir>/raw/."),
        path: Optional[Path] = typer.Option(None, help="Station folder in any supported layout (overrides --dataset)."),
        res: float = typer.Option(0.1, help="Grid resolution in degrees."),
        population: str = typer.Option("grid", help="Inside units spread people by the 'grid' or 'uniform'."),
        n_boot: int = typer.Option(1000, help="Bootstrap resamples for the disparity intervals (≥ 2)."),
        seed: int = typer.Option(0, help="Bootstrap seed."),
    ) -> None:
        """Exposure of the 222 BTH census units (NBS 2020 census, GHSL) to a model's PM2.5 surface."""
        from core.exposure import check_n_boot, run_exposure, summarize

        check_n_boot(n_boot)  # before the surface is built: a bad value must not cost the run
        check_output_file(json_out, "--json")
        t0 = time.perf_counter()
        result, surface = run_exposure(model, start, end, dataset=dataset, path=path, res=res, population=population)
        facts = summarize(result, n_boot=n_boot, seed=seed)
        facts = {
            "model": model, "dataset": str(path) if path else dataset, "res_deg": res,
            "grid": [int(surface.sizes["lat"]), int(surface.sizes["lon"])], "hours": int(surface.sizes["time"]),
            "wind": surface.attrs.get("wind", ""), "population_weighting": population,
        } | facts
        csv_path = json_out.with_suffix(".csv")
        facts["unit_table"] = str(csv_path)
        facts["run_seconds"] = round(time.perf_counter() - t0, 2)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(_finite(facts), ensure_ascii=False, indent=1), encoding="utf-8")
        csv_path.write_text(unit_csv(result.table), encoding="utf-8")
        for w in result.warnings:
            typer.secho(f"warning: {w}", fg=typer.colors.YELLOW, err=True)
        ci = facts["disparity"]["age65p"]
        typer.echo(
            f"{facts['units']} units, {facts['population_total']:,.0f} people (NBS 2020 census); "
            f"population-weighted PM2.5 {facts['pop_weighted_pm25']:.1f} µg/m³; "
            f"65+ quintile ratio {ci['ratio']:.3f}, CI {ci['concentration_index']:+.3f} "
            f"[{ci['interval'][0]:+.3f}, {ci['interval'][1]:+.3f}]; "
            f"wrote {json_out} and {csv_path} in {facts['run_seconds']} s"
        )
