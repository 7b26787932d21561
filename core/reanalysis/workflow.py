"""Run a reanalysis: in one process, or scaled out on Dask (local cluster or any scheduler).

Both paths compute items with :func:`core.reanalysis.work.run_item` and write them with
:func:`write_item`; the Dask path only distributes those calls. Output is a Zarr store chunked
exactly by work item (time block × tile), so concurrent items never share a chunk; NetCDF
requested → Zarr first, converted at the end, with the run's fingerprint and a sha256 of each
variable in the file's attributes (a rerun trusts an existing .nc only when both match).

A rerun verifies before it skips: an item counts as done only when its marker names this run
and this store and its region still reads back with the recorded checksum (a deleted or
corrupted chunk is recomputed). Nothing the user made is overwritten: an existing output of a
different run, or a file that is not a reanalysis at all, is refused with a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr
from tqdm import tqdm

from core.errors import InvalidRequest
from core.io import with_crs
from core.reanalysis.domain import cell_mask, describe
from core.reanalysis.markers import digest, drop_markers, read_marker, region_digest, trusted, write_marker
from core.reanalysis.tiles import neighbourhood_km
from core.reanalysis.work import ReanalysisSpec, WorkItem, check_period, model_for, plan, run_item

SUFFIXES = (".zarr", ".nc")


def store_path(out: Path) -> Path:
    """Where the chunks go: ``out`` itself for Zarr, a sibling partial Zarr for NetCDF."""
    return out if out.suffix == ".zarr" else Path(str(out) + ".partial.zarr")


def check_out(out: Path) -> None:
    """Refuse an output path that cannot be written, before any work."""
    if out.suffix not in SUFFIXES:
        raise InvalidRequest(f"--out must end in .zarr or .nc, got '{out.name}'.")
    if not out.parent.is_dir():
        raise InvalidRequest(f"--out {out}: folder {out.parent} does not exist; create it first.")
    if out.suffix == ".nc" and out.is_dir():
        raise InvalidRequest(f"--out {out} is a directory, not a NetCDF file; choose another --out.")
    if out.suffix == ".zarr" and out.exists() and not out.is_dir():
        raise InvalidRequest(f"--out {out} is a file, not a Zarr store; choose another --out.")


# --------------------------------------------------------------------------- store identity


def _refuse(path: Path, why: str) -> InvalidRequest:
    return InvalidRequest(f"{path} exists but {why}. Choose another --out, or delete it yourself if it is "
                          "no longer needed (it is never overwritten).")


def store_identity(spec: ReanalysisSpec, out: Path) -> tuple[str, list[str]] | None:
    """``(store_id, variables)`` of the existing store of this run, None if there is none; refuses others."""
    store = store_path(out)
    if not store.exists():
        return None
    try:
        with xr.open_zarr(store) as ds:
            attrs, variables = dict(ds.attrs), [v for v in ds.data_vars if v.startswith("pm25")]
    except Exception:  # noqa: BLE001 — any unreadable store: refuse, never delete user data
        raise _refuse(store, "is not a readable Zarr store made by reanalyze") from None
    if attrs.get("reanalysis_fingerprint") != spec.fingerprint():
        raise _refuse(store, "was made by a different reanalysis (or is not one)")
    if not attrs.get("reanalysis_store_id") or "pm25" not in variables:
        raise _refuse(store, "lacks the reanalysis identity attributes")
    return attrs["reanalysis_store_id"], variables


def init_store(spec: ReanalysisSpec, out: Path, first: xr.Dataset) -> tuple[str, list[str]]:
    """Create the (empty) store with the full grid and time axis; atomically (build aside, rename)."""
    store = store_path(out)
    times, grid = spec.times(), spec.grid()
    shape = (len(times), *grid.shape)
    side = spec.tile_side()
    chunks = (min(spec.block_hours, len(times)), min(side, grid.shape[0]), min(side, grid.shape[1]))
    variables = [v for v in ("pm25", "pm25_lo", "pm25_hi") if v in first.data_vars]
    store_id = uuid.uuid4().hex
    model = model_for(spec.model)
    reach = neighbourhood_km(model)
    template = xr.Dataset(
        {v: (("time", "lat", "lon"), da.full(shape, np.nan, dtype="float32", chunks=chunks), first[v].attrs)
         for v in variables},
        coords={"time": times, "lat": ("lat", grid.lat, first["lat"].attrs),
                "lon": ("lon", grid.lon, first["lon"].attrs)},
        attrs=first.attrs | {
            "reanalysis_fingerprint": spec.fingerprint(),
            "reanalysis_store_id": store_id,
            "reanalysis_spec": json.dumps(asdict(spec)),
            "reanalysis_mask": spec.mask,
            "reanalysis_domain": describe(spec.mask),
            "reanalysis_tile_cells": side,
            "reanalysis_halo": "all stations" if reach is None else f"stations within {reach:g} km",
            "history": "python -m core reanalyze",
        },
    )
    template = with_crs(template)
    tmp = store.with_name(f"{store.name}.init{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    template.to_zarr(tmp, compute=False, mode="w", zarr_format=2)
    os.rename(tmp, store)  # a kill before this leaves only the aside copy, never a half store
    return store_id, variables


# --------------------------------------------------------------------------- items


def write_item(spec: ReanalysisSpec, out: Path, item: WorkItem, store_id: str, variables: list[str],
               surf: xr.Dataset | None = None) -> WorkItem:
    """Compute one item, write its region, read it back, then write its marker (in that order)."""
    surf = run_item(spec, item) if surf is None else surf
    shape = (item.i1 - item.i0, item.tile.y1 - item.tile.y0, item.tile.x1 - item.tile.x0)
    data = {v: surf[v].values.astype("float32") if v in surf else np.full(shape, np.nan, np.float32)
            for v in variables}
    # zarr directly, not xarray's region write: an item is one chunk per variable, and the per-call
    # overhead of opening the dataset dominated small items.
    group = zarr.open_group(str(store_path(out)), mode="r+")
    sl = tuple(item.region().values())
    for v, arr in data.items():
        group[v][sl] = arr
    got = region_digest(zarr.open_group(str(store_path(out)), mode="r"), item, variables)
    if got != {v: digest(a) for v, a in data.items()}:
        raise OSError(f"{store_path(out)}: {item.name} reads back different from what was written; "
                      "check the disk, then rerun.")
    write_marker(out, item, spec.fingerprint(), store_id, got)
    return item


def verify(spec: ReanalysisSpec, out: Path, store_id: str, variables: list[str],
           items: list[WorkItem], progress: bool = False) -> list[WorkItem]:
    """Items still to compute: no trusted marker, or a region that no longer matches its checksum."""
    todo = []
    group = zarr.open_group(str(store_path(out)), mode="r")
    for it in tqdm(items, desc="verify", unit="item", disable=not progress):
        m = read_marker(out, it)
        if not trusted(m, it, spec.fingerprint(), store_id):
            todo.append(it)
            continue
        try:
            ok = region_digest(group, it, variables) == m["sha256"]
        except Exception:  # noqa: BLE001 — a chunk that cannot even be decoded is just as pending
            ok = False
        if not ok:
            todo.append(it)
    return todo


# --------------------------------------------------------------------------- NetCDF output


def _array_sha256(ds: xr.Dataset, variables: list[str], step: int = 24) -> dict[str, str]:
    """sha256 of each variable's whole float32 array (C order), read ``step`` hours at a time."""
    out = {}
    for v in variables:
        h = hashlib.sha256()
        for a in range(0, ds.sizes["time"], step):
            h.update(np.ascontiguousarray(ds[v].isel(time=slice(a, a + step)).values, np.float32).tobytes())
        out[v] = h.hexdigest()
    return out


def nc_complete(spec: ReanalysisSpec, out: Path) -> bool:
    """True when ``out`` (.nc) is this run's finished, intact file; False when there is none (or ours is
    damaged: then it is rebuilt); refuses any other existing file."""
    if out.suffix != ".nc" or not out.exists():
        return False
    try:
        with xr.open_dataset(out, engine="netcdf4") as ds:
            attrs = dict(ds.attrs)
            if attrs.get("reanalysis_fingerprint") != spec.fingerprint():
                raise _refuse(out, "was made by a different reanalysis (or is not one)")
            want = json.loads(attrs.get("reanalysis_sha256", "{}"))
            intact = bool(want) and _array_sha256(ds, list(want)) == want
    except InvalidRequest:
        raise
    except Exception:  # noqa: BLE001 — not a NetCDF we can read: someone else's file
        raise _refuse(out, "is not a readable NetCDF made by reanalyze") from None
    if not intact:
        print(f"warning: {out} is this run's output but its data no longer match their checksum; "
              "recomputing it.", file=sys.stderr)
    return intact


def _finish(spec: ReanalysisSpec, out: Path, variables: list[str]) -> Path:
    """NetCDF output: convert the verified Zarr store, then drop the partial store and markers."""
    if out.suffix == ".nc":
        tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
        with xr.open_zarr(store_path(out)) as ds:
            ds.attrs["reanalysis_sha256"] = json.dumps(_array_sha256(ds, variables))
            ds.to_netcdf(tmp, engine="netcdf4")
        tmp.replace(out)
        drop_markers(out)
        shutil.rmtree(store_path(out), ignore_errors=True)
    return out


# --------------------------------------------------------------------------- runs


def _prepare(spec: ReanalysisSpec, out: Path, info: dict, progress: bool) -> tuple[list[WorkItem], str, list[str]]:
    """Check the request, make or check the store, and return the items still to compute."""
    spec.validate()
    check_out(out)
    info.update(check_period(spec))
    items = plan(spec)
    info.update(items=len(items), domain=describe(spec.mask), tile_cells=spec.tile_side())
    ident = store_identity(spec, out)
    if ident is None:
        # Markers without their store describe chunks that no longer exist.
        drop_markers(out)
        # The first item that covers domain cells fixes the variables (pm25, bounds if the model gives them).
        grid = spec.grid()
        first = next((it for it in items if cell_mask(spec.mask, it.tile.grid(grid)).any()), items[0])
        surf = run_item(spec, first)
        store_id, variables = init_store(spec, out, surf)
        write_item(spec, out, first, store_id, variables, surf=surf)
    else:
        store_id, variables = ident
    todo = verify(spec, out, store_id, variables, items, progress=progress)
    computed = len(todo) + (ident is None)
    info.update(items_computed=computed, items_done_before=len(items) - computed, variables=variables)
    return todo, store_id, variables


def run_local(spec: ReanalysisSpec, out: Path, progress: bool = True, info: dict | None = None) -> Path:
    """Single-process reanalysis (the reference the Dask path must reproduce)."""
    info = {} if info is None else info
    out = Path(out).absolute()
    if nc_complete(spec.validate(), out):
        info.update(complete=True, items_computed=0)
        clean_markers(out)  # litter of a run killed between its final rename and its clean-up
        return out
    todo, store_id, variables = _prepare(spec, out, info, progress)
    for item in tqdm(todo, desc="reanalysis", unit="item", disable=not progress):
        write_item(spec, out, item, store_id, variables)
    return _finish(spec, out, variables)


def run_dask(spec: ReanalysisSpec, out: Path, scheduler: str | None = None, workers: int = 2,
             progress: bool = True, on_item: Callable[[WorkItem], None] | None = None,
             info: dict | None = None) -> Path:
    """Distribute the pending items over Dask workers (a local cluster unless ``scheduler`` is given).

    The store path is made absolute: workers of a remote cluster must see the same filesystem path.
    """
    from distributed import Client, LocalCluster, as_completed

    info = {} if info is None else info
    if not scheduler and not (isinstance(workers, int) and workers >= 1):
        raise InvalidRequest(f"--workers must be ≥ 1 for Dask (0 = single process), got {workers}.")
    out = Path(out).absolute()
    if nc_complete(spec.validate(), out):
        info.update(complete=True, items_computed=0)
        clean_markers(out)  # litter of a run killed between its final rename and its clean-up
        return out
    todo, store_id, variables = _prepare(spec, out, info, progress)
    if todo:
        cluster = None
        if scheduler:
            client = Client(scheduler, timeout="30s")
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        try:
            futures = [client.submit(write_item, spec, out, it, store_id, variables,
                                     key=f"{spec.fingerprint()}-{store_id[:8]}-{it.name}", pure=False)
                       for it in todo]
            for fut in tqdm(as_completed(futures), total=len(futures), desc="reanalysis", unit="item",
                            disable=not progress):
                item = fut.result()
                if on_item:
                    on_item(item)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return _finish(spec, out, variables)


def clean_markers(out: Path) -> None:
    """Remove the work markers (and the partial store for NetCDF) once the output is final."""
    drop_markers(out)
    if out.suffix == ".nc":
        shutil.rmtree(store_path(out), ignore_errors=True)
