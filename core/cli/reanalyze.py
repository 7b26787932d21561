"""`python -m core reanalyze`: hourly gridded PM2.5 over a period, resumable, on Dask."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from core.grid import BTH_BBOX


def _bbox(text: str | None) -> tuple[float, float, float, float]:
    if not text:
        return BTH_BBOX
    try:
        w, s, e, n = (float(x) for x in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"--bbox must be W,S,E,N in degrees, got '{text}'") from None
    return (w, s, e, n)


def register(app: typer.Typer) -> None:
    @app.command("reanalyze")
    def reanalyze(
        start: str = typer.Option(..., help="First day or hour (Beijing time), e.g. 2019-01-01."),
        end: str = typer.Option(..., help="Last day (inclusive) or hour, e.g. 2019-12-31."),
        res: float = typer.Option(0.05, help="Grid resolution in degrees."),
        model: str = typer.Option("idw", help="Registry name of the model (python -m core evaluate --help lists)."),
        out: Path = typer.Option(..., help="Output store: PATH.zarr or PATH.nc."),
        bbox: Optional[str] = typer.Option(None, help="W,S,E,N in degrees (default: BTH)."),
        dataset: Optional[str] = typer.Option("cnemc_bth_2019", help="Dataset under <data dir>/raw/."),
        path: Optional[Path] = typer.Option(None, help="Station folder in any supported layout (overrides --dataset)."),
        scheduler: Optional[str] = typer.Option(None, help="Address of a dask.distributed scheduler (default: local)."),
        workers: int = typer.Option(2, help="Local Dask workers (0 = single process, no Dask)."),
        block_hours: int = typer.Option(24, help="Hours per work item / time chunk."),
        geotiff: Optional[str] = typer.Option(None, help="Also export this hour (e.g. 2019-01-05T08) as GeoTIFF."),
    ) -> None:
        """Write hourly PM2.5 surfaces (µg/m³, CF metadata) for a period; rerun to finish an interrupted run."""
        from core.io import write_geotiff
        from core.reanalysis.work import ReanalysisSpec
        from core.reanalysis.workflow import clean_markers, run_dask, run_local, store_path

        end_ts = pd.Timestamp(end)
        if len(end) <= 10:  # a day: include all its hours
            end_ts = end_ts + pd.Timedelta(hours=23)
        spec = ReanalysisSpec(
            model=model, start=pd.Timestamp(start).isoformat(), end=end_ts.isoformat(), res=res, bbox=_bbox(bbox),
            dataset=None if path else dataset, path=str(path) if path else None, block_hours=block_hours,
        )
        t0 = time.perf_counter()
        if out.suffix == ".nc" and out.exists() and not store_path(out).exists():
            typer.echo(f"{out} is complete; nothing to do.")
        elif workers == 0 and not scheduler:
            run_local(spec, out)
        else:
            run_dask(spec, out, scheduler=scheduler, workers=workers)
        if out.suffix == ".nc":
            clean_markers(out)
        wall = time.perf_counter() - t0
        n_t = len(spec.times())
        ny, nx = spec.grid().shape
        facts = {"out": str(out), "hours": n_t, "grid": [ny, nx], "wall_s": round(wall, 2),
                 "cell_hours_per_s": round(n_t * ny * nx / wall, 1)}
        if geotiff:
            import xarray as xr

            ds = xr.open_zarr(out) if out.suffix == ".zarr" else xr.open_dataset(out)
            tif = write_geotiff(ds, geotiff, out.with_name(f"{out.stem}_{geotiff.replace(':', '')}.tif"))
            facts["geotiff"] = str(tif)
        typer.echo(json.dumps(facts))
