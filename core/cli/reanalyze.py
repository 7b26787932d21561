"""`python -m core reanalyze`: hourly gridded PM2.5 over a period, resumable, tiled, on Dask."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from core.contracts.settings import DEFAULT_DATASET
from core.errors import InvalidRequest


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        w, s, e, n = (float(x) for x in text.split(","))
    except ValueError:
        raise InvalidRequest(f"--bbox must be W,S,E,N in degrees (four numbers), got '{text}'.") from None
    return (w, s, e, n)


def _hour(text: str, flag: str, end: bool = False) -> str:
    """ISO hour of a day (``end``: its last hour) or of an explicit hour; a clear error otherwise."""
    bad = InvalidRequest(f"{flag} '{text}' is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH (Beijing time).")
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise bad from None
    if ts is pd.NaT:
        raise bad
    if end and len(text.strip()) <= 10:  # a day: include all its hours
        ts = ts + pd.Timedelta(hours=23)
    return ts.isoformat()


def register(app: typer.Typer) -> None:
    @app.command("reanalyze")
    def reanalyze(
        start: str = typer.Option(..., help="First day or hour (Beijing time), e.g. 2019-01-01."),
        end: str = typer.Option(..., help="Last day (inclusive) or hour, e.g. 2019-12-31."),
        res: float = typer.Option(0.05, help="Grid resolution in degrees (> 0)."),
        model: str = typer.Option("idw", help="Registry name of the model (python -m core evaluate --help lists)."),
        out: Path = typer.Option(..., help="Output store: PATH.zarr or PATH.nc."),
        region: str = typer.Option("bth", help="Named extent: bth, or china (masked to the national boundary "
                                               "when the offline layer is present)."),
        bbox: Optional[str] = typer.Option(None, help="W,S,E,N in degrees (overrides --region; no boundary mask)."),
        dataset: Optional[str] = typer.Option(DEFAULT_DATASET, help="Dataset under <data dir>/raw/."),
        path: Optional[Path] = typer.Option(None, help="Station folder in any supported layout (overrides --dataset)."),
        scheduler: Optional[str] = typer.Option(None, help="Address of a running dask.distributed scheduler, "
                                                           "e.g. tcp://10.0.0.5:8786 (default: a local cluster)."),
        workers: int = typer.Option(2, help="Local Dask workers (0 = single process, no Dask)."),
        block_hours: int = typer.Option(24, help="Hours per work item / time chunk (≥ 1)."),
        tile_deg: Optional[float] = typer.Option(None, help="Tile side in degrees (a work item is time block × "
                                                            "tile); default 100 cells a side."),
        geotiff: Optional[str] = typer.Option(None, help="Also export this hour (e.g. 2019-01-05T08) as GeoTIFF."),
    ) -> None:
        """Write hourly PM2.5 surfaces (µg/m³, CF metadata) for a period; rerun to finish an interrupted run."""
        from core.engine.models import get_model
        from core.reanalysis.domain import BBOX_MASK, mask_for, region_bbox
        from core.reanalysis.work import ReanalysisSpec
        from core.reanalysis.workflow import check_out, run_dask, run_local

        # Everything a user can get wrong is checked here, before any data is loaded.
        if workers < 0:
            raise InvalidRequest(f"--workers must be ≥ 1 (or 0 for a single process), got {workers}.")
        extent = _bbox(bbox) if bbox else region_bbox(region)
        spec = ReanalysisSpec(
            model=model, start=_hour(start, "--start"), end=_hour(end, "--end", end=True), res=res, bbox=extent,
            dataset=None if path else dataset, path=str(path.absolute()) if path else None,
            block_hours=block_hours, tile_deg=tile_deg, mask=BBOX_MASK if bbox else mask_for(region),
        ).validate()
        check_out(out)
        get_model(model)  # an unknown name fails here, listing the registry

        info: dict = {}
        t0 = time.perf_counter()
        if workers == 0 and not scheduler:
            run_local(spec, out, info=info)
        else:
            run_dask(spec, out, scheduler=scheduler, workers=workers, info=info)
        wall = time.perf_counter() - t0
        n_t = len(spec.times())
        ny, nx = spec.grid().shape
        if info.get("items_computed") == 0:
            typer.echo(f"{out} is complete (verified against its checksums); nothing to do.", err=True)
        facts = {"out": str(out), "hours": n_t, "grid": [ny, nx], "domain": info.get("domain"),
                 "items": info.get("items"), "items_computed": info.get("items_computed"),
                 "hours_without_data": info.get("hours_without_data"), "variables": info.get("variables"),
                 "wall_s": round(wall, 2), "cell_hours_per_s": round(n_t * ny * nx / wall, 1)}
        if geotiff:
            import xarray as xr

            from core.io import write_geotiff

            ds = xr.open_zarr(out) if out.suffix == ".zarr" else xr.open_dataset(out)
            tif = write_geotiff(ds, geotiff, out.with_name(f"{out.stem}_{geotiff.replace(':', '')}.tif"))
            facts["geotiff"] = str(tif)
        typer.echo(json.dumps(facts, ensure_ascii=False))
