"""The extent of a reanalysis: a named region or a bbox, and the mask of the cells it covers.

``--region china`` is masked to land inside China's national boundary when the offline Natural
Earth layer is present (``<data>/geo/basemap_offline/countries-10m.json``, feature "China": the
de-facto boundary, without Taiwan, Hong Kong and Macao, as NE draws it); without that file the
mask is the bbox. The chosen mask is part of the run's fingerprint and is named in the store's
attributes and the CLI output.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from core.contracts.grid import BTH_BBOX, GridSpec
from core.errors import InvalidRequest
from core.paths import geo_dir

CHINA_BBOX = (73.5, 18.0, 135.1, 53.6)  # W, S, E, N: mainland China and Hainan, rounded out
REGIONS: dict[str, tuple[float, float, float, float]] = {"bth": BTH_BBOX, "china": CHINA_BBOX}
BBOX_MASK = "bbox"
CHINA_MASK = "natural-earth-10m-china"
BOUNDARY_FILE = Path("basemap_offline") / "countries-10m.json"


def boundary_path() -> Path | None:
    """The offline national boundary layer, or None when the data folder lacks it."""
    try:
        p = geo_dir() / BOUNDARY_FILE
    except Exception:  # noqa: BLE001 — no data folder at all: the bbox is the mask
        return None
    return p if p.is_file() else None


def region_bbox(region: str) -> tuple[float, float, float, float]:
    if region not in REGIONS:
        raise InvalidRequest(f"Unknown --region '{region}'. Choose one of: {', '.join(REGIONS)} (or give --bbox).")
    return REGIONS[region]


def mask_for(region: str | None) -> str:
    """The mask a run over ``region`` uses: the national boundary for china when available, else the bbox."""
    return CHINA_MASK if region == "china" and boundary_path() is not None else BBOX_MASK


def describe(mask: str) -> str:
    if mask == CHINA_MASK:
        return f"cells inside China's national boundary (Natural Earth 10m 'China', {BOUNDARY_FILE})"
    return "every cell of the bbox (no boundary mask)"


@functools.lru_cache(maxsize=2)
def _china_geometry():
    import geopandas as gpd
    import shapely

    path = boundary_path()
    if path is None:
        raise InvalidRequest(f"The national boundary {BOUNDARY_FILE} is not under the data folder's geo/; "
                             "rerun without --region china's mask or restore the file.")
    countries = gpd.read_file(path, layer="countries")
    geom = countries.loc[countries["name"] == "China"].geometry.union_all()
    shapely.prepare(geom)
    return geom


def cell_mask(mask: str, grid: GridSpec) -> np.ndarray:
    """bool ``(lat, lon)``: True where a cell centre lies inside the run's domain."""
    if mask == BBOX_MASK:
        return np.ones(grid.shape, bool)
    if mask != CHINA_MASK:
        raise InvalidRequest(f"Unknown domain mask '{mask}'.")
    import shapely

    lat, lon = grid.points()
    return shapely.contains_xy(_china_geometry(), lon, lat).reshape(grid.shape)
