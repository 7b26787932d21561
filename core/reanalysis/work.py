"""Frozen work items and the single-process step of a reanalysis.

A reanalysis is a list of :class:`WorkItem` — (time block × spatial tile). Each item is computed
by :func:`run_item` — the same ``core.engine.infer.infer`` call as everywhere else — on the
stations of its tile's halo, and written into its own chunk of a Zarr store; its completion
marker (see :mod:`core.reanalysis.markers`) is written only after the chunk is on disk and read
back. A killed run therefore leaves at most unmarked items, and a rerun recomputes exactly those.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import Window, grid_dataset, history_hours_of
from core.contracts.stationset import active_stations
from core.data.load import load_stationset
from core.engine.infer import infer
from core.engine.models import get_model
from core.errors import InvalidRequest
from core.reanalysis.domain import BBOX_MASK, cell_mask
from core.reanalysis.tiles import Tile, halo_stations, neighbourhood_km, tile_cells, tiles


@dataclass(frozen=True)
class ReanalysisSpec:
    """Everything that defines the output; its hash names the store's identity.

    ``tile_deg`` None = tiles of :data:`~core.reanalysis.tiles.DEFAULT_TILE_CELLS` cells a side;
    ``mask`` names the domain mask (:mod:`core.reanalysis.domain`).
    """

    model: str
    start: str  # first hour, ISO (Beijing time)
    end: str  # last hour, inclusive
    res: float
    bbox: tuple[float, float, float, float]
    dataset: str | None = None
    path: str | None = None
    block_hours: int = 24
    tile_deg: float | None = None
    mask: str = BBOX_MASK

    def validate(self) -> ReanalysisSpec:
        """Refuse a request that cannot make a sensible store — before any data is loaded."""
        if not (isinstance(self.res, int | float) and math.isfinite(self.res) and self.res > 0):
            raise InvalidRequest(f"--res must be a positive number of degrees (e.g. 0.05), got {self.res}.")
        if len(self.bbox) != 4 or not all(math.isfinite(v) for v in self.bbox):
            raise InvalidRequest(f"--bbox must be four finite numbers W,S,E,N, got {self.bbox}.")
        w, s, e, n = self.bbox
        if not (-180 <= w < e <= 180):
            raise InvalidRequest(f"--bbox west ({w}) must be < east ({e}), both within -180…180.")
        if not (-90 <= s < n <= 90):
            raise InvalidRequest(f"--bbox south ({s}) must be < north ({n}), both within -90…90.")
        if self.res > min(e - w, n - s):
            raise InvalidRequest(f"--res {self.res}° is larger than the bbox ({e - w:g}° × {n - s:g}°): "
                                 "no grid cell would fit.")
        if not (isinstance(self.block_hours, int) and self.block_hours >= 1):
            raise InvalidRequest(f"--block-hours must be a whole number ≥ 1, got {self.block_hours}.")
        if self.tile_deg is not None and not (math.isfinite(self.tile_deg) and self.tile_deg > 0):
            raise InvalidRequest(f"--tile-deg must be a positive number of degrees, got {self.tile_deg}.")
        try:
            t0, t1 = pd.Timestamp(self.start), pd.Timestamp(self.end)
        except (ValueError, TypeError):
            raise InvalidRequest(f"Cannot read the period {self.start} … {self.end}: use YYYY-MM-DD "
                                 "or YYYY-MM-DDTHH.") from None
        if t1 < t0:
            raise InvalidRequest(f"Empty period: --start {self.start} is after --end {self.end}.")
        return self

    def grid(self) -> GridSpec:
        return GridSpec.from_bbox(self.bbox, self.res)

    def times(self) -> np.ndarray:
        return pd.date_range(self.start, self.end, freq="h").values

    def tile_side(self) -> int:
        return tile_cells(self.res, self.tile_deg)

    def fingerprint(self) -> str:
        """16 hex digits over the canonical spec (``2019-01-01T00:00`` and ``2019-01-01 00:00:00`` agree)."""
        canon = asdict(self) | {
            "start": pd.Timestamp(self.start).isoformat(), "end": pd.Timestamp(self.end).isoformat(),
            "res": float(self.res), "bbox": [float(v) for v in self.bbox], "tile_side": self.tile_side(),
        }
        canon.pop("tile_deg")  # only the cells per tile matter
        return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class WorkItem:
    """Hours ``[i0, i1)`` of the spec's time axis over one spatial ``tile``."""

    index: int
    i0: int
    i1: int
    tile: Tile

    @property
    def name(self) -> str:
        return f"item-{self.index:06d}"

    def region(self) -> dict[str, slice]:
        """The item's region of the store (index slices along time, lat, lon)."""
        t = self.tile
        return {"time": slice(self.i0, self.i1), "lat": slice(t.y0, t.y1), "lon": slice(t.x0, t.x1)}


def plan(spec: ReanalysisSpec) -> list[WorkItem]:
    """Time blocks of ``block_hours`` (the last may be shorter) × tiles, time-major."""
    n = len(spec.times())
    if n == 0:
        raise InvalidRequest(f"Empty period: start {spec.start} is after end {spec.end}.")
    blocks = [(i0, min(i0 + spec.block_hours, n)) for i0 in range(0, n, spec.block_hours)]
    tl = tiles(spec.grid().shape, spec.tile_side())
    return [WorkItem(k, i0, i1, t) for k, ((i0, i1), t) in enumerate((b, t) for b in blocks for t in tl)]


@functools.lru_cache(maxsize=4)
def stations_for(dataset: str | None, path: str | None) -> xr.Dataset:
    """Active stations of the run's data; one load per worker process (the parse cache makes it fast)."""
    return active_stations(load_stationset(dataset=dataset, path=path))


@functools.lru_cache(maxsize=4)
def model_for(name: str):
    return get_model(name)


def check_period(spec: ReanalysisSpec) -> dict:
    """Refuse a period with no observed PM2.5 at all; report hours without any (they stay NaN)."""
    st = stations_for(spec.dataset, spec.path)
    times = spec.times()
    t = st["time"].values
    sel = np.isin(t, times)
    has = np.zeros(len(times), bool)
    if sel.any():
        hour_ok = np.isfinite(st["pm25"].values[sel]).any(axis=1)
        has[np.searchsorted(times, t[sel])] = hour_ok
    if not has.any():
        raise InvalidRequest(
            f"No PM2.5 observation between {spec.start} and {spec.end}: the data covers "
            f"{np.datetime_as_string(t[0], 'h')} … {np.datetime_as_string(t[-1], 'h')}. Choose dates inside it.")
    return {"hours": len(times), "hours_without_data": int((~has).sum())}


def run_item(spec: ReanalysisSpec, item: WorkItem) -> xr.Dataset:
    """Surface ``(time, lat, lon)`` over the item's tile, every active station of its halo observed.

    Cells outside the domain mask, and hours without any observation, are NaN.
    """
    stations = stations_for(spec.dataset, spec.path)
    times = spec.times()[item.i0:item.i1]
    grid = item.tile.grid(spec.grid())
    inside = cell_mask(spec.mask, grid)
    model = model_for(spec.model)
    halo = halo_stations(stations["lat"].values, stations["lon"].values, grid, neighbourhood_km(model))
    sub = stations if halo.all() else stations.isel(station=np.flatnonzero(halo))
    # Only the hours the model reads (its window and declared history): infer copies what it is given.
    hist = history_hours_of(model)
    t = sub["time"].values
    lo = t[0] if hist is None else times[0] - np.timedelta64(hist, "h")
    sub = sub.isel(time=np.flatnonzero((t >= lo) & (t <= times[-1])))
    in_window = np.isin(sub["time"].values, times)
    if not inside.any() or not in_window.any() or not np.isfinite(sub["pm25"].values[in_window]).any():
        # Outside the domain, or hours outside the data's span / a day absent from the archive:
        # NaN, not an invented surface.
        nan = np.full((len(times), *grid.shape), np.nan, np.float32)
        return grid_dataset(times, grid, nan, model=spec.model)
    res = infer(model, sub, np.ones(sub.sizes["station"], bool), grid, Window.of(times[0], times[-1]))
    surf = res.grid.reindex(time=times)  # hours missing in the data stay NaN
    if not inside.all():
        surf = surf.where(xr.DataArray(inside, dims=("lat", "lon")))
    return surf
