"""One exposure run end to end: stations → ``infer`` → grid surface → census units.

``python -m core exposure`` calls :func:`run_exposure`; the dashboard, which infers from its own station slice with
some stations hidden, calls the same two halves: :func:`infer_surface` and :func:`surface_exposure`. So both give
the same numbers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import Kriger, Window
from core.contracts.period import parse_window
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

POPULATION_WEIGHTING = ("grid", "uniform")  # how people are spread inside a unit


def infer_surface(kriger: Kriger, stations: xr.Dataset, observed: np.ndarray, window: Window, res: float = 0.1,
                  model: str | None = None) -> xr.Dataset:
    """Hourly grid surface (time, lat, lon) µg/m³ over the BTH box at ``res``° from ``kriger`` given the
    ``observed`` stations (bool, station); attrs ``model`` and ``wind`` say what made it."""
    name = model or kriger.name
    result = infer(kriger, stations, observed, grid=GridSpec.from_bbox(res=res), window=window)
    if result.grid is None:
        raise UnusableData(f"Model '{name}' returned no grid surface; it cannot be used for exposure.")
    surface = result.grid
    surface.attrs["model"] = name
    surface.attrs["wind"] = result.wind
    return surface


def model_surface(model: str, window: Window, dataset: str | None = DEFAULT_DATASET,
                  path: str | Path | None = None, res: float = 0.1) -> xr.Dataset:
    """Hourly grid surface (time, lat, lon) µg/m³ of ``model`` over ``window``, every active station observed."""
    names = available()
    if model not in names:
        raise InvalidRequest(f"Model '{model}' is not available. Available models: {', '.join(names) or 'none'}.")
    if not 0.01 <= res <= 1.0:
        raise InvalidRequest(f"--res must be between 0.01 and 1 degree (got {res}).")
    stations = active_stations(load_stationset(dataset=None if path else dataset, path=path))
    return infer_surface(get_model(model), stations, np.ones(stations.sizes["station"], bool), window, res, model)


def _check_population(population: str) -> None:
    if population not in POPULATION_WEIGHTING:
        raise InvalidRequest(f"population must be 'grid' or 'uniform' (got {population!r}).")


def surface_exposure(surface: xr.Dataset, population: str = "grid", units: gpd.GeoDataFrame | None = None,
                     population_grid: xr.DataArray | None = None) -> ExposureResult:
    """Exposure of the census units to an already-computed ``surface`` (the second half of :func:`run_exposure`).

    ``population``: "grid" (spread people by the 0.1° population grid inside units) or "uniform".
    ``units`` / ``population_grid`` default to the shared layers (a caller that keeps them loaded passes them in).
    Exposure warnings are returned in ``result.warnings``, not emitted.
    """
    _check_population(population)
    units = load_census_units() if units is None else units
    pop = None
    if population == "grid":
        pop = load_population_grid() if population_grid is None else population_grid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExposureWarning)  # they are returned in result.warnings
        return unit_exposure(surface, units, pop)


def run_exposure(model: str, start: str, end: str, dataset: str | None = DEFAULT_DATASET,
                 path: str | Path | None = None, res: float = 0.1,
                 population: str = "grid") -> tuple[ExposureResult, xr.Dataset]:
    """Exposure of the census units to ``model``'s surface over [start, end]; returns (result, surface).

    ``population``: "grid" (spread people by the 0.1° population grid inside units) or "uniform".
    """
    _check_population(population)  # before the surface is built: a bad value must not cost the run
    window = parse_window(start, end)
    surface = model_surface(model, window, dataset=dataset, path=path, res=res)
    return surface_exposure(surface, population), surface
