"""Run a reanalysis: in one process, or scaled out on Dask (local cluster or any scheduler).

Both paths compute items with :func:`core.reanalysis.work.run_item` and write them with
:func:`write_item`; the Dask path only distributes those calls. Output is a Zarr store
chunked by work item along time (NetCDF requested → Zarr first, converted at the end).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
from tqdm import tqdm

from core.errors import InvalidRequest
from core.io import with_crs
from core.reanalysis.work import ReanalysisSpec, WorkItem, is_done, mark_done, marker_dir, plan, run_item


def store_path(out: Path) -> Path:
    """Where the chunks go: ``out`` itself for Zarr, a sibling partial Zarr for NetCDF."""
    return out if out.suffix == ".zarr" else Path(str(out) + ".partial.zarr")


def _check_out(out: Path) -> None:
    if out.suffix not in (".zarr", ".nc"):
        raise InvalidRequest(f"--out must end in .zarr or .nc, got '{out.name}'.")


def init_store(spec: ReanalysisSpec, out: Path, first: xr.Dataset) -> None:
    """Create the (empty) store with the full time axis, or check an existing one is ours."""
    store = store_path(out)
    if store.exists():
        try:
            have = xr.open_zarr(store).attrs.get("reanalysis_fingerprint")
        except Exception:  # noqa: BLE001 — an unreadable store: refuse, never delete user data
            have = None
        if have != spec.fingerprint():
            raise InvalidRequest(
                f"{store} exists but was made by a different reanalysis (or is not one). "
                "Choose another --out, or delete it yourself if it is no longer needed."
            )
        return
    times = spec.times()
    grid = spec.grid()
    shape = (len(times), *grid.shape)
    chunks = (spec.block_hours, *grid.shape)
    template = xr.Dataset(
        {v: (("time", "lat", "lon"), da.full(shape, np.nan, dtype="float32", chunks=chunks), first[v].attrs)
         for v in first.data_vars},
        coords={"time": times, "lat": first["lat"], "lon": first["lon"]},
        attrs=first.attrs | {
            "reanalysis_fingerprint": spec.fingerprint(),
            "reanalysis_spec": json.dumps(asdict(spec)),
            "history": "python -m core reanalyze",
        },
    )
    template = with_crs(template)
    template.to_zarr(store, compute=False, mode="w", zarr_format=2)


def write_item(spec: ReanalysisSpec, out: Path, item: WorkItem) -> WorkItem:
    """Compute one item, write its region, then its completion marker (in that order)."""
    surf = run_item(spec, item)
    region = surf[[v for v in surf.data_vars]].drop_vars(["lat", "lon"])
    region.to_zarr(store_path(out), region={"time": slice(item.i0, item.i1)})
    mark_done(out, item)
    return item


def pending(spec: ReanalysisSpec, out: Path) -> list[WorkItem]:
    return [it for it in plan(spec) if not is_done(out, it)]


def _finish(spec: ReanalysisSpec, out: Path) -> Path:
    """NetCDF output: convert the complete Zarr store; Zarr output: nothing to do."""
    if out.suffix == ".nc":
        with xr.open_zarr(store_path(out)) as ds:
            ds.load().to_netcdf(out.with_suffix(".nc.tmp"), engine="netcdf4")
        out.with_suffix(".nc.tmp").replace(out)
    return out


def _prepare(spec: ReanalysisSpec, out: Path) -> list[WorkItem]:
    _check_out(out)
    todo = pending(spec, out)
    if todo and not store_path(out).exists():
        # The first item fixes the variables (pm25, bounds if the model gives them).
        first = todo[0]
        surf = run_item(spec, first)
        init_store(spec, out, surf)
        region = surf.drop_vars(["lat", "lon"])
        region.to_zarr(store_path(out), region={"time": slice(first.i0, first.i1)})
        mark_done(out, first)
        todo = todo[1:]
    elif store_path(out).exists():
        init_store(spec, out, xr.Dataset())  # only checks identity
    return todo


def run_local(spec: ReanalysisSpec, out: Path, progress: bool = True) -> Path:
    """Single-process reanalysis (the reference the Dask path must reproduce)."""
    todo = _prepare(spec, out)
    for item in tqdm(todo, desc="reanalysis", unit="block", disable=not progress):
        write_item(spec, out, item)
    return _finish(spec, out)


def run_dask(spec: ReanalysisSpec, out: Path, scheduler: str | None = None, workers: int = 2,
             progress: bool = True, on_item: Callable[[WorkItem], None] | None = None) -> Path:
    """Distribute the pending items over Dask workers (a local cluster unless ``scheduler`` is given)."""
    from distributed import Client, LocalCluster, as_completed

    todo = _prepare(spec, out)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        futures = [client.submit(write_item, spec, out, it, key=f"{spec.fingerprint()}-{it.name}", pure=False)
                   for it in todo]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="reanalysis", unit="block",
                        disable=not progress):
            item = fut.result()
            if on_item:
                on_item(item)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return _finish(spec, out)


def clean_markers(out: Path) -> None:
    """Remove the work markers (and the partial store for NetCDF) once the output is final."""
    shutil.rmtree(marker_dir(out), ignore_errors=True)
    if out.suffix == ".nc":
        shutil.rmtree(store_path(out), ignore_errors=True)
