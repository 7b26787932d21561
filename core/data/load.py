"""One entry point for every station source: ``load_stationset(dataset=... | path=...)``.

Sources register themselves in :data:`core.data.base.SOURCES`; the folder's layout
decides which parser reads it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import xarray as xr

from core.data.base import SOURCES
from core.data.coords_check import check_coordinates
from core.errors import DataNotFound, UnusableData
from core.paths import dataset_dir

# Modules that register a source when imported (one source per file).
SOURCE_MODULES = ("core.data.cnemc", "core.data.uci", "core.data.aqi36", "core.data.isd")


def _import_sources() -> None:
    for mod in SOURCE_MODULES:
        importlib.import_module(mod)


def detect_source(path: Path) -> str:
    """Name of the source whose layout ``path`` has; a clear error if none matches."""
    _import_sources()
    for name, (detect, _) in SOURCES.items():
        if detect(path):
            return name
    raise UnusableData(
        f"{path} is not in a supported layout. Expected one of: CNEMC archive "
        "(hourly/china_sites_YYYYMMDD.csv[.gz] + stations_region.csv), UCI Beijing "
        "(PRSA_Data_*.csv + station_coords.csv), AQI-36 (pm25_ground.txt + pm25_latlng.txt), "
        "ISD-Lite (isd_lite/ + stations.csv)."
    )


def load_stationset(dataset: str | None = None, path: str | Path | None = None) -> xr.Dataset:
    """Load a StationSet by dataset name (folder under ``<data>/raw``) or by folder path."""
    if (dataset is None) == (path is None):
        raise ValueError("give exactly one of dataset= or path=")
    folder = dataset_dir(dataset) if dataset is not None else Path(path).expanduser()
    if not folder.is_dir():
        raise DataNotFound(f"Folder {folder} does not exist.")
    name = detect_source(folder)
    return check_coordinates(SOURCES[name][1](folder))  # QC: coordinates vs the listed city
