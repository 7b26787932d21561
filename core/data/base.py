"""Protocols at the data boundary.

A *StationSource* turns files into one StationSet; a *MetSource* gives wind where it is
measured; an *AODSource* gives a column-aerosol field with cloud gaps. Sources are
registered by name in :data:`SOURCES` so the CLI can find them without if/elif chains.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import xarray as xr


@runtime_checkable
class StationSource(Protocol):
    """Anything that loads a folder of files into a StationSet."""

    name: str

    def load(self, path: Path) -> xr.Dataset:
        """Parse ``path`` into a StationSet (see :mod:`core.contracts.stationset`)."""
        ...


@runtime_checkable
class MetSource(Protocol):
    """Measured wind (m/s) at given places and times, or ``None`` when there is none."""

    def wind(self, times: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Return ``(u, v)`` each shaped ``(time, point)``, or ``None``."""
        ...


@runtime_checkable
class AODSource(Protocol):
    """Aerosol optical depth on a lat/lon grid, NaN under clouds, or ``None``."""

    def aod(self, times: np.ndarray) -> xr.DataArray | None:
        """Return AOD with dims ``(time, lat, lon)`` (dimensionless), or ``None``."""
        ...


# name -> (detector, loader). The detector says whether a folder looks like this source.
SOURCES: dict[str, tuple[Callable[[Path], bool], Callable[[Path], xr.Dataset]]] = {}


def register_source(name: str, detect: Callable[[Path], bool]):
    """Decorator: register a loader ``f(path) -> StationSet`` under ``name``."""

    def deco(load: Callable[[Path], xr.Dataset]):
        SOURCES[name] = (detect, load)
        return load

    return deco
