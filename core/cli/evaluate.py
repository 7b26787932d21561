"""`python -m core evaluate`: score a model under an evaluation protocol, with the baselines, as JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from core.cli.outputs import check_output_file
from core.evaluation.protocols import PROTOCOLS


def _baselines(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if text is None:
        return default
    names = tuple(b.strip() for b in text.split(",") if b.strip() and b.strip() != "none")
    from core.contracts.registry import available
    unknown = sorted(set(names) - set(available()))
    if unknown:
        raise typer.BadParameter(f"unknown baseline(s) {', '.join(unknown)}; available: {', '.join(available())}",
                                 param_hint="--baselines")
    return names


def checkpoint_kwargs(checkpoint: str) -> dict:
    """``--checkpoint``: a folder name under assets/models, or a path to a checkpoint folder (``card.json``
    inside) → :func:`core.engine.models.get_model`'s ``checkpoint=`` (and ``root=`` for a path)."""
    p = Path(checkpoint).expanduser()
    if (p / "card.json").is_file():
        return {"checkpoint": p.name, "root": p.resolve().parent}
    return {"checkpoint": checkpoint}


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        model: str = typer.Option(..., "--model", help="Registry name (spin, aqnet, ignnk, idw, ok, knn, linear)."),
        protocol: str = typer.Option(..., "--protocol", help=f"One of: {', '.join(PROTOCOLS)}."),
        dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset name under <data>/raw/."),
        path: Optional[Path] = typer.Option(None, "--path", help="Any folder in a supported layout (all days scored)."),
        json_out: Path = typer.Option(..., "--json", help="Where to write the report (one JSON object)."),
        test_stations: Optional[str] = typer.Option(
            None, "--test-stations", help="Comma-separated station codes, or a file with one code per line."),
        period: Optional[str] = typer.Option(None, "--period", help="START/END, e.g. 2019-01-01/2019-02-28."),
        seeds: Optional[int] = typer.Option(
            None, "--seeds", help="Seeds 0..N-1 for mask-R (default 5); holdout and sparse-30km are deterministic."),
        no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
        baselines: Optional[str] = typer.Option(
            None, "--baselines", help="Comma-separated baselines run on the same hidden sets "
                                      "(default: idw,ok,logok,knn,ignnk; 'none' for none)."),
        split: str = typer.Option(
            "test", "--split", help="test (days 24–end, score S_test) or val (days 21–23, S_test removed, "
                                    "score S_val): make design choices on val, report test."),
        fold: int = typer.Option(0, "--fold", help="With --split val: the validation station fold to hide and "
                                                   "score (0 = S_val; 0-3, disjoint, all non-test BTH stations)."),
        checkpoint: Optional[str] = typer.Option(
            None, "--checkpoint", help="Another checkpoint of a learned model: its folder name under assets/models "
                                       "(e.g. spin-national for --model spin) or a path to such a folder; default "
                                       "the model's own."),
    ) -> None:
        """Hide stations as the protocol says, infer, score S_test; baselines on the same masks and hours."""
        from core.contracts.settings import EVALUATION_BASELINES
        from core.engine.models import get_model
        from core.evaluation.runner import evaluate

        if (dataset is None) == (path is None):
            raise typer.BadParameter("give exactly one of --dataset or --path")
        check_output_file(json_out, "--json")  # before the run: a bad path must not lose the result
        t0 = time.perf_counter()
        report = evaluate(model, protocol, dataset=dataset, path=path, test_stations=test_stations,
                          period=period, seeds=seeds, progress=not no_progress, split=split, fold=fold,
                          baselines=_baselines(baselines, EVALUATION_BASELINES),
                          models={model: get_model(model, **checkpoint_kwargs(checkpoint))} if checkpoint else None)
        if checkpoint:
            report["checkpoint"] = checkpoint
        report["wall_s"] = round(time.perf_counter() - t0, 1)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1))
        if report.get("flagged_cells_scored"):
            typer.secho(f"warning: {report['flagged_cells_scored']} scored cell(s) carry a QC flag in qc_pm25 "
                        f"({report.get('flagged_cells_by_flag', {})}); their truth may be a fault",
                        fg=typer.colors.YELLOW, err=True)
        m = report["metrics"]
        idw = report["baselines"].get("idw", {})
        typer.echo(f"{model} {protocol}: MAE {m['mae']:.2f} RMSE {m['rmse']:.2f} R² {m['r2']:.3f} "
                   f"bias {m['bias']:+.2f} µg/m³ over {report['times']['count']} h; "
                   f"IDW MAE {idw.get('mae', float('nan')):.2f}; {report['wall_s']} s → {json_out}")
        if m.get("coverage") is not None:
            typer.echo(f"  {m['level']:.0%} interval: coverage {m['coverage']:.3f}, "
                       f"mean width {m['interval_width']:.1f} µg/m³")
