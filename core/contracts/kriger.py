"""The Kriger contract: what every model answers, learned or classical.

``infer(stations, observed, targets, window) -> InferenceResult``

- ``stations``: a StationSet (dims ``time, station``);
- ``observed``: bool, shape ``(station,)`` or ``(time, station)``; False = hidden.
  Hidden values are blanked by :func:`core.engine.infer.infer` before a model sees them;
- ``targets``: grid (optional) — station predictions are always made for every station;
- ``window``: the span of times to predict (models may read history before it).

A Kriger may declare ``history_hours``: the hours before the window it reads (0 for per-hour methods,
None for the whole series). Callers hand each call only that much (:func:`history_hours_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.settings import MAX_HISTORY_HOURS

PM25_STANDARD_NAME = "mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air"


@dataclass(frozen=True)
class Window:
    """Times to predict, inclusive, as numpy datetime64 (Beijing time)."""

    start: np.datetime64
    end: np.datetime64

    @classmethod
    def of(cls, start, end) -> Window:
        return cls(np.datetime64(start, "ns"), np.datetime64(end, "ns"))


@dataclass
class InferenceResult:
    """What a model returns.

    - ``station_pred``: DataArray ``(time, station)``, µg/m³, every station in the set
      (observed ones too: the model's own estimate, useful for residual maps);
    - ``grid``: Dataset ``(time, lat, lon)`` with ``pm25`` (and ``pm25_lo``/``pm25_hi`` when the
      model gives an interval), CF attributes; None unless a grid was asked for;
    - ``attention``: DataArray ``(station, pred_step, hist_step)`` for temporal-attention models;
    - ``influence``: Dataset ``(target, source)`` with ``diffusion`` and ``advection`` shares;
    - ``wind``: "measured", "inferred" or "none" (model does not use wind);
    - ``station_lo`` / ``station_hi``: optional interval at stations (µg/m³).
    """

    station_pred: xr.DataArray
    model: str
    wind: str = "none"
    grid: xr.Dataset | None = None
    attention: xr.DataArray | None = None
    influence: xr.Dataset | None = None
    station_lo: xr.DataArray | None = None
    station_hi: xr.DataArray | None = None
    device: str = "cpu"
    extras: dict = field(default_factory=dict)


@runtime_checkable
class Kriger(Protocol):
    """Every model: IDW, ordinary kriging, kNN, linear, IGNNK, AQ-Net-style, SPIN."""

    name: str

    def infer(
        self,
        stations: xr.Dataset,
        observed: np.ndarray,
        grid: GridSpec | None,
        window: Window,
    ) -> InferenceResult:
        """Predict PM2.5 (µg/m³) at every station (and grid cell) over ``window``.

        ``stations`` already has hidden values blanked (NaN); ``observed`` is (time, station).
        """
        ...


def grid_dataset(times: np.ndarray, grid: GridSpec, pm25: np.ndarray,
                 lo: np.ndarray | None = None, hi: np.ndarray | None = None, model: str = "",
                 level: float | None = None) -> xr.Dataset:
    """Wrap ``(time, lat, lon)`` arrays (µg/m³) as a CF-annotated surface."""
    attrs = {"units": "ug m-3", "standard_name": PM25_STANDARD_NAME, "long_name": "PM2.5 mass concentration"}
    ds = xr.Dataset(
        {"pm25": (("time", "lat", "lon"), pm25.astype("float32"), attrs)},
        coords={
            "time": ("time", times),
            "lat": ("lat", grid.lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", grid.lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"Conventions": "CF-1.8", "source": f"AirAtlas {model}".strip()},
    )
    for name, arr, bound in (("pm25_lo", lo, "lower"), ("pm25_hi", hi, "upper")):
        if arr is not None:
            label = f"{level:.0%} interval" if level is not None else "interval"
            ds[name] = (("time", "lat", "lon"), arr.astype("float32"),
                        {"units": "ug m-3", "long_name": f"PM2.5 {bound} bound ({label})",
                         **({"level": level} if level is not None else {})})
    return ds


def history_hours_of(model: object) -> int | None:
    """Hours of history ``model`` reads before its window (None = the whole series); a model that does
    not declare ``history_hours`` gets :data:`~core.contracts.settings.MAX_HISTORY_HOURS`."""
    return getattr(model, "history_hours", MAX_HISTORY_HOURS)
