"""QC step at load: a station's coordinates must lie in (or near) the BTH city it is listed under.

The CNEMC station lists carry a few rows whose coordinates belong elsewhere (3132A 文明里, listed
under 秦皇岛 but at 37.03°N 119.60°E, in Shandong). Such a station is kept, flagged
``coord_mismatch`` (bool, per station) and reported as a load warning, so consumers can keep it
out of BTH scoring. ``is_bth`` is left as the list says: the evaluation split ``S_test`` is drawn
from it, and changing it would silently move stations between training and test under existing
checkpoints.

Only cities with a boundary in ``<data>/geo/cn_admin_bth_cnmaps`` (the 13 BTH cities) are checked;
without the geo layers the step only adds an all-False ``coord_mismatch``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

from core.contracts.stationset import DataWarning
from core.errors import AirAtlasError
from core.paths import geo_dir

CITY_FILE = Path("cn_admin_bth_cnmaps") / "bth_city_simplified_wgs84.geojson"
TOLERANCE_KM = 5.0  # simplified outlines and coastal sites: a station this close to its city still passes
KM_PER_DEG = 111.195


def _short(city: str) -> str:
    return str(city).strip().removesuffix("市")


@lru_cache(maxsize=4)
def _city_shapes(path: str) -> dict:
    """{city name without 市: shapely geometry} from a cnmaps city GeoJSON (WGS84)."""
    import shapely

    feats = json.loads(Path(path).read_text(encoding="utf-8"))["features"]
    return {_short(f["properties"]["name"]): shapely.geometry.shape(f["geometry"]) for f in feats}


def city_boundaries() -> dict | None:
    """The BTH city outlines, or None when the geo layers are not there."""
    try:
        path = geo_dir() / CITY_FILE
    except AirAtlasError:
        return None
    return _city_shapes(str(path)) if path.is_file() else None


def mismatch_km(ds: xr.Dataset, shapes: dict) -> np.ndarray:
    """Distance (km, approx.) from each station to its listed city's outline; 0 inside, NaN if unchecked."""
    import shapely

    out = np.full(ds.sizes["station"], np.nan)
    lat, lon = ds["lat"].values.astype(float), ds["lon"].values.astype(float)
    for i, city in enumerate(ds["city"].values.astype(str)):
        geom = shapes.get(_short(city))
        if geom is None or not (np.isfinite(lat[i]) and np.isfinite(lon[i])):
            continue
        p = shapely.Point(lon[i], lat[i])
        if geom.covers(p):
            out[i] = 0.0
            continue
        # Degrees → km with longitude shrunk by cos(lat): good to a few % at these distances.
        q = shapely.ops.nearest_points(geom, p)[0]
        dx = (q.x - lon[i]) * np.cos(np.radians(lat[i]))
        out[i] = float(np.hypot(dx, q.y - lat[i]) * KM_PER_DEG)
    return out


def check_coordinates(ds: xr.Dataset, shapes: dict | None = None, tolerance_km: float = TOLERANCE_KM) -> xr.Dataset:
    """``ds`` with a ``coord_mismatch`` station coordinate and one load warning per flagged station."""
    import shapely.ops  # noqa: F401 — nearest_points lives in the submodule

    shapes = city_boundaries() if shapes is None else shapes
    dist = mismatch_km(ds, shapes) if shapes else np.full(ds.sizes["station"], np.nan)
    bad = np.isfinite(dist) & (dist > tolerance_km)
    ds = ds.assign_coords(coord_mismatch=("station", bad))
    if bad.any():
        warns = json.loads(ds.attrs.get("load_warnings", "[]"))
        for i in np.flatnonzero(bad):
            st = ds.isel(station=i)
            warns.append(vars(DataWarning(
                "station list", None,
                f"station {st['station'].item()} {st['name'].item()} is listed in {st['city'].item()} but its "
                f"coordinates {float(st['lat']):.2f}°N {float(st['lon']):.2f}°E lie {dist[i]:.0f} km outside that "
                "city's boundary: kept, flagged coord_mismatch (left out of BTH scoring)")))
        ds.attrs["load_warnings"] = json.dumps(warns, ensure_ascii=False)
    return ds
