"""Frozen work items and the single-process step of a reanalysis.

A reanalysis is a list of :class:`WorkItem` (consecutive time blocks). Each item is
computed by :func:`run_item` — the same ``core.engine.infer.infer`` call as everywhere
else — and written into its own region of a Zarr store; a completion marker is written
only after the region is on disk. A killed run therefore leaves at most incomplete
regions *without* markers, and a rerun recomputes exactly those.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.data.load import load_stationset
from core.data.stationset import active_stations
from core.engine.infer import infer
from core.engine.result import Window, grid_dataset
from core.errors import InvalidRequest
from core.grid import GridSpec
from core.registry import get_model


@dataclass(frozen=True)
class ReanalysisSpec:
    """Everything that defines the output; its hash names the store's identity."""

    model: str
    start: str  # first hour, ISO (Beijing time)
    end: str  # last hour, inclusive
    res: float
    bbox: tuple[float, float, float, float]
    dataset: str | None = None
    path: str | None = None
    block_hours: int = 24

    def grid(self) -> GridSpec:
        return GridSpec.from_bbox(self.bbox, self.res)

    def times(self) -> np.ndarray:
        return pd.date_range(self.start, self.end, freq="h").values

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class WorkItem:
    """Hours ``[i0, i1)`` of the spec's time axis."""

    index: int
    i0: int
    i1: int

    @property
    def name(self) -> str:
        return f"item-{self.index:05d}"


def plan(spec: ReanalysisSpec) -> list[WorkItem]:
    """Split the spec's hours into blocks of ``block_hours`` (the last may be shorter)."""
    n = len(spec.times())
    if n == 0:
        raise InvalidRequest(f"Empty period: start {spec.start} is after end {spec.end}.")
    return [WorkItem(k, i0, min(i0 + spec.block_hours, n)) for k, i0 in enumerate(range(0, n, spec.block_hours))]


@functools.lru_cache(maxsize=4)
def _stations(dataset: str | None, path: str | None) -> xr.Dataset:
    # One load per worker process (the loader's own cache makes it fast after the first).
    return active_stations(load_stationset(dataset=dataset, path=path))


@functools.lru_cache(maxsize=4)
def _model(name: str):
    return get_model(name)


def run_item(spec: ReanalysisSpec, item: WorkItem) -> xr.Dataset:
    """Surface ``(time, lat, lon)`` for one work item, every active station observed."""
    stations = _stations(spec.dataset, spec.path)
    times = spec.times()[item.i0:item.i1]
    window = Window.of(times[0], times[-1])
    grid = spec.grid()
    in_window = np.isin(stations["time"].values, times)
    if not np.isfinite(stations["pm25"].values[in_window]).any():
        # Hours outside the data's span or a day absent from the archive: NaN, not an invented surface.
        nan = np.full((len(times), *grid.shape), np.nan, np.float32)
        return grid_dataset(times, grid, nan, model=spec.model)
    res = infer(_model(spec.model), stations, np.ones(stations.sizes["station"], bool), grid, window)
    surf = res.grid.reindex(time=times)  # hours missing in the data stay NaN
    return surf


def marker_dir(out: Path) -> Path:
    return Path(str(out) + ".work")


def is_done(out: Path, item: WorkItem) -> bool:
    return (marker_dir(out) / f"{item.name}.done").exists()


def mark_done(out: Path, item: WorkItem) -> None:
    d = marker_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f"{item.name}.tmp"
    tmp.write_text(json.dumps(asdict(item)))
    tmp.replace(d / f"{item.name}.done")
