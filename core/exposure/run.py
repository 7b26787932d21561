"""One exposure run end to end: stations → ``infer`` → grid surface → census units → summary.

Shared by ``python -m core exposure`` and the dashboard so both give the same numbers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import Window
from core.contracts.period import parse_bounds
from core.contracts.registry import available
from core.contracts.settings import DEFAULT_DATASET
from core.contracts.stationset import active_stations
from core.data.load import load_stationset
from core.data.population import load_population_grid
from core.engine.infer import infer
from core.engine.models import get_model
from core.errors import InvalidRequest, UnusableData
from core.exposure.census import load_census_units
from core.exposure.units import ExposureResult, ExposureWarning, unit_exposure


def parse_period(start: str, end: str) -> Window:
    """Inclusive Beijing-time window; a bare date as ``end`` means its last hour (23:00)."""
    return Window.of(*parse_bounds(start, end, what="--start/--end"))


def model_surface(model: str, window: Window, dataset: str | None = DEFAULT_DATASET,
                  path: str | Path | None = None, res: float = 0.1) -> xr.Dataset:
    """Hourly grid surface (time, lat, lon) µg/m³ of ``model`` over ``window``, every active station observed."""
    names = available()
    if model not in names:
        raise InvalidRequest(f"Model '{model}' is not available. Available models: {', '.join(names) or 'none'}.")
    if not 0.01 <= res <= 1.0:
        raise InvalidRequest(f"--res must be between 0.01 and 1 degree (got {res}).")
    stations = active_stations(load_stationset(dataset=None if path else dataset, path=path))
    result = infer(get_model(model), stations, np.ones(stations.sizes["station"], bool),
                   grid=GridSpec.from_bbox(res=res), window=window)
    if result.grid is None:
        raise UnusableData(f"Model '{model}' returned no grid surface; it cannot be used for exposure.")
    surface = result.grid
    surface.attrs["model"] = model
    surface.attrs["wind"] = result.wind
    return surface


def run_exposure(model: str, start: str, end: str, dataset: str | None = DEFAULT_DATASET,
                 path: str | Path | None = None, res: float = 0.1,
                 population: str = "grid") -> tuple[ExposureResult, xr.Dataset]:
    """Exposure of the census units to ``model``'s surface over [start, end]; returns (result, surface).

    ``population``: "grid" (spread people by the 0.1° population grid inside units) or "uniform".
    """
    if population not in ("grid", "uniform"):
        raise InvalidRequest(f"population must be 'grid' or 'uniform' (got {population!r}).")
    window = parse_period(start, end)
    surface = model_surface(model, window, dataset=dataset, path=path, res=res)
    units = load_census_units()
    pop = load_population_grid() if population == "grid" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExposureWarning)  # they are returned in result.warnings
        result = unit_exposure(surface, units, pop)
    return result, surface
