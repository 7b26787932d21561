"""On-disk store of inferred surfaces, shared by every process and session.

An :class:`~core.contracts.kriger.InferenceResult` for one scenario is computed once through
:func:`core.engine.infer.infer` and kept as a Zarr folder named by a key hashed from what
determines it: the data (dataset sha256 + the exact slice's content), the model (checkpoint,
card, interval calibration and the model's code), the window, the hidden stations and the grid.
Any change to one of them gives another key, so a stale surface is never served; a key's folder
is written to a temporary name and renamed, so readers never see half a surface.

Layout of ``<root>/<key>.zarr`` (root default: ``<cache>/surfaces``):

- root group: grid ``pm25`` / ``pm25_lo`` / ``pm25_hi`` ``(time, lat, lon)`` µg/m³ (CF attrs kept),
  station ``station_pred`` / ``station_lo`` / ``station_hi`` ``(station_time, station)`` µg/m³,
  numeric ``extras`` as ``extra__<name>`` with dims ``extra__<name>__<i>``; attrs: model, wind, device;
- groups ``attention`` / ``influence`` when the result has them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Kriger, Window

MAX_MB_ENV = "AIRATLAS_SURFACE_STORE_MB"  # size cap of the surface store in MB (default DEFAULT_MAX_MB)
DEFAULT_MAX_MB = 2000.0
STORE_VERSION = 1  # bump when the layout or the meaning of a stored field changes
_EXTRA = "extra__"


def _sha(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()


def model_fingerprint(model: Kriger) -> str:
    """sha256 over what defines a model's output: shipped files (model.pt, card.json, intervals.json) and code.

    A calibrated wrapper (:class:`core.intervals.CalibratedKriger`) adds its table and its own code.
    """
    from core.paths import MODELS_DIR

    parts: list[bytes] = [str(getattr(model, "name", type(model).__name__)).encode()]
    seen = model
    while seen is not None:
        src = inspect.getsourcefile(type(seen))
        if src and Path(src).is_file():
            parts.append(Path(src).read_bytes())
        own = vars(seen) if hasattr(seen, "__dict__") else {}
        table = own.get("table")
        if table is not None and hasattr(table, "to_json"):
            parts.append(json.dumps(table.to_json(), sort_keys=True, default=str).encode())
        seen = own.get("base")  # the wrapped model of a CalibratedKriger (its __getattr__ forwards, so ask vars)
    folder = MODELS_DIR / str(getattr(model, "name", ""))
    for f in ("model.pt", "card.json", "intervals.json"):
        if (folder / f).is_file():
            parts.append(f.encode() + (folder / f).read_bytes())
    return _sha(parts)


def stations_fingerprint(stations: xr.Dataset) -> str:
    """sha256 over the dataset's input sha256 and the slice's content (codes, coordinates, times, values)."""
    parts = [str(stations.attrs.get("input_sha256", "")).encode(),
             "\x1f".join(stations["station"].values.astype(str)).encode(),
             np.ascontiguousarray(stations["time"].values.astype("datetime64[ns]")).tobytes(),
             np.ascontiguousarray(stations["lat"].values, np.float64).tobytes(),
             np.ascontiguousarray(stations["lon"].values, np.float64).tobytes()]
    for var in sorted(map(str, stations.data_vars)):
        parts.append(var.encode() + np.ascontiguousarray(stations[var].values).tobytes())
    return _sha(parts)


def surface_key(stations_fp: str, model_fp: str, observed: np.ndarray, grid: GridSpec | None,
                window: Window) -> str:
    """The store key (32 hex digits) of one scenario; ``observed`` bool ``(station,)`` or ``(time, station)``."""
    obs = np.ascontiguousarray(np.asarray(observed, bool))
    grid_part = b"none" if grid is None else (
        np.ascontiguousarray(grid.lat, np.float64).tobytes() + np.ascontiguousarray(grid.lon, np.float64).tobytes())
    return _sha([str(STORE_VERSION).encode(), stations_fp.encode(), model_fp.encode(),
                 str(obs.shape).encode(), np.packbits(obs).tobytes(), grid_part,
                 str(np.datetime64(window.start, "ns")).encode(), str(np.datetime64(window.end, "ns")).encode()])[:32]


class SurfaceStore:
    """Zarr folders ``<root>/<key>.zarr``, one per scenario; safe for concurrent readers and writers."""

    def __init__(self, root: Path | None = None, max_mb: float | None = None) -> None:
        if root is None:
            from core.paths import cache_dir

            root = cache_dir() / "surfaces"
        self.root = Path(root)
        # Size cap (MB) of the whole store; least recently used surfaces (~5 MB each) go first.
        self.max_mb = float(os.environ.get(MAX_MB_ENV, DEFAULT_MAX_MB)) if max_mb is None else float(max_mb)

    def entries(self) -> list[tuple[Path, float, int]]:
        """``(folder, last access time, bytes)`` of every stored surface, least recently used first."""
        out = []
        for d in self.root.glob("*.zarr"):
            try:
                size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
                out.append((d, d.stat().st_mtime, size))
            except OSError:  # removed meanwhile by another process
                continue
        return sorted(out, key=lambda e: e[1])

    def evict(self, keep: str | None = None) -> list[Path]:
        """Delete least recently used surfaces until the store is within ``max_mb``; never ``keep``."""
        entries = self.entries()
        total, cap, gone = sum(e[2] for e in entries), self.max_mb * 1e6, []
        for d, _, size in entries:
            if total <= cap:
                break
            if keep is not None and d == self.path(keep):
                continue
            _discard(d)
            total -= size
            gone.append(d)
        return gone

    def path(self, key: str) -> Path:
        return self.root / f"{key}.zarr"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_dir()  # only whole folders are renamed into place

    def load(self, key: str) -> InferenceResult | None:
        """The stored result, or None (absent or unreadable: then it is computed again)."""
        if key not in self:
            return None
        p = self.path(key)
        try:
            ds = xr.open_zarr(p, consolidated=False).load()
            token = ds.attrs.get("airatlas_token")
            missing = set(ds.attrs.get("airatlas_vars", [])) - {str(n) for n in ds.variables}
            grid_ok = not ds.attrs.get("airatlas_has_grid") or {"pm25", "lat", "lon"} <= set(map(str, ds.variables))
            # token None: a folder from before tokens; the last two: from before airatlas_vars.
            if token is None or missing or "station_pred" not in ds or not grid_ok:
                # Part of a folder: opening lists what is there, so a half-deleted one "loads" without error.
                raise ValueError(f"incomplete stored surface {p.name}: {sorted(missing) or 'pm25/station_pred'}")
            attention = influence = None
            groups = list(ds.attrs.pop("airatlas_groups", []))
            if "attention" in groups:
                attention = xr.open_zarr(p, group="attention", consolidated=False).load()["attention"]
            if "influence" in groups:
                influence = xr.open_zarr(p, group="influence", consolidated=False).load()
            arrays = {g[len(_EXTRA):]: xr.open_zarr(p, group=g, consolidated=False).load()["value"]
                      for g in groups if g.startswith(_EXTRA)}
        except Exception:  # noqa: BLE001 — damaged (e.g. a full disk): drop it, it is computed again
            _discard(p)
            return None
        if _token(p) != token:
            # Moved away (discarded, evicted) or replaced while being read: zarr reads a chunk file that is gone as
            # its fill value, so what was read may hold NaN where the surface had numbers. Not served; recomputed.
            return None
        try:
            os.utime(p)  # the folder's mtime is its last access: what eviction goes by
        except OSError:
            pass
        return _from_dataset(ds, attention, influence, arrays)

    def save(self, key: str, result: InferenceResult) -> None:
        """Write ``result`` under ``key`` (atomically: a temporary folder renamed into place)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        try:
            _to_dataset(result).to_zarr(tmp, mode="w", consolidated=False)
            groups = []
            if result.attention is not None:
                result.attention.rename("attention").to_dataset().to_zarr(tmp, group="attention", mode="a",
                                                                          consolidated=False)
                groups.append("attention")
            if result.influence is not None:
                result.influence.to_zarr(tmp, group="influence", mode="a", consolidated=False)
                groups.append("influence")
            for k, da in _array_extras(result).items():
                da.rename("value").to_dataset().to_zarr(tmp, group=f"{_EXTRA}{k}", mode="a", consolidated=False)
                groups.append(f"{_EXTRA}{k}")
            import zarr

            zarr.open_group(tmp, mode="r+").attrs["airatlas_groups"] = groups
            try:
                os.rename(tmp, self.path(key))
            except OSError:  # another process stored the same key first: theirs is as good as ours
                shutil.rmtree(tmp, ignore_errors=True)
            self.evict(keep=key)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _token(folder: Path) -> str | None:
    """The write token of the folder stored at this path now (None: none there), re-read from disk."""
    import zarr

    try:
        return zarr.open_group(folder, mode="r").attrs.get("airatlas_token")
    except Exception:  # noqa: BLE001 — gone or unreadable: not the folder that was read
        return None


def _discard(folder: Path) -> None:
    """Delete a stored surface so that no reader ever opens part of it: renamed away first (atomic), then removed.

    Deleting in place let a reader in another thread or process open a half-deleted folder (say ``pm25`` gone,
    ``pm25_hi`` still there), which opened without error and broke the page that showed it; an interrupted delete
    left such a folder behind for every later reader.
    """
    trash = folder.with_name(f".{folder.name}.trash.{uuid.uuid4().hex}")
    try:
        os.rename(folder, trash)
    except OSError:  # gone already: another thread or process discarded it first
        return
    shutil.rmtree(trash, ignore_errors=True)


def _to_dataset(result: InferenceResult) -> xr.Dataset:
    ds = result.grid.copy() if result.grid is not None else xr.Dataset()
    for name in ("station_pred", "station_lo", "station_hi"):
        da = getattr(result, name)
        if da is not None:
            # Only the index coordinates: the station metadata lives in the StationSet, not in a surface.
            da = da.drop_vars([c for c in da.coords if c not in ("time", "station")])
            # Codes as variable-length strings (fixed-width unicode has no Zarr v3 spec yet).
            ds[name] = da.rename({"time": "station_time"}).assign_coords(
                station=da["station"].values.astype(str).astype(object))
    plain = {}
    for k, v in result.extras.items():
        if isinstance(v, np.ndarray) and v.dtype.kind in "fiub":
            ds[f"{_EXTRA}{k}"] = ([f"{_EXTRA}{k}__{i}" for i in range(v.ndim)], v)
        elif not isinstance(v, (xr.DataArray, xr.Dataset)):
            try:
                plain[k] = json.loads(json.dumps(v))
            except (TypeError, ValueError):
                continue  # e.g. a dict of DataArrays (a model's own interval before calibration): not kept
    # airatlas_vars: the arrays a complete folder holds, coordinates too (load checks it: a half-deleted folder
    # opens without error).
    # airatlas_token: unique per write, so a reader can tell that the folder it read is still the one stored.
    ds.attrs = {**ds.attrs, "airatlas_vars": sorted(str(n) for n in ds.variables),
                "airatlas_token": uuid.uuid4().hex,
                "airatlas_model": result.model, "airatlas_wind": result.wind,
                "airatlas_device": result.device, "airatlas_has_grid": int(result.grid is not None),
                "airatlas_extras": json.dumps(plain)}
    return ds


def _array_extras(result: InferenceResult) -> dict[str, xr.DataArray]:
    """Extras that are DataArrays (e.g. aqnet's ``knn_weights``): stored as groups of their own."""
    return {k: v for k, v in result.extras.items() if isinstance(v, xr.DataArray)}


def _from_dataset(ds: xr.Dataset, attention: xr.DataArray | None, influence: xr.Dataset | None,
                  arrays: dict[str, xr.DataArray]) -> InferenceResult:
    attrs = dict(ds.attrs)
    station = {n: ds[n].rename({"station_time": "time"}) if n in ds else None
               for n in ("station_pred", "station_lo", "station_hi")}
    extras = json.loads(attrs.get("airatlas_extras", "{}"))
    extras |= {str(n)[len(_EXTRA):]: ds[n].values for n in ds.data_vars if str(n).startswith(_EXTRA)}
    extras |= arrays
    grid = None
    if attrs.get("airatlas_has_grid"):
        keep = [n for n in ds.data_vars if not str(n).startswith(_EXTRA) and n not in station]
        grid = ds[keep]
        grid = grid.drop_vars([c for c in grid.coords if c not in ("time", "lat", "lon")])
        grid.attrs = {k: v for k, v in attrs.items() if not k.startswith("airatlas_")}
    return InferenceResult(station_pred=station["station_pred"], model=attrs.get("airatlas_model", ""),
                           wind=attrs.get("airatlas_wind", "none"), grid=grid, attention=attention,
                           influence=influence, station_lo=station["station_lo"], station_hi=station["station_hi"],
                           device=attrs.get("airatlas_device", "cpu"), extras=extras)


def stored_infer(model: Kriger, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None = None,
                 window: Window | None = None, store: SurfaceStore | None = None,
                 model_fp: str | None = None) -> tuple[InferenceResult, bool]:
    """:func:`core.engine.infer.infer`, read back from ``store`` when this exact scenario was computed before.

    Returns ``(result, from_store)``. ``model_fp``: :func:`model_fingerprint` of ``model`` when the caller
    keeps it (it reads the checkpoint files).
    """
    from core.engine.infer import infer

    store = store or SurfaceStore()
    if window is None:
        window = Window(stations["time"].values[0], stations["time"].values[-1])
    key = surface_key(stations_fingerprint(stations), model_fp or model_fingerprint(model), observed, grid, window)
    hit = store.load(key)
    if hit is not None:
        return hit, True
    result = infer(model, stations, observed, grid=grid, window=window)
    store.save(key, result)
    return result, False
