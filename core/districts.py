"""Which BTH district (cnmaps polygons, WGS84) each point lies in: "城市 区县" labels, '' outside."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.errors import AirAtlasError
from core.paths import geo_dir

DISTRICT_FILE = ("cn_admin_bth_cnmaps", "bth_district_simplified_wgs84.geojson")


@lru_cache(maxsize=1)
def _districts():
    """The district polygons as a GeoDataFrame (city, name, geometry), or None when the layer is absent."""
    import geopandas as gpd

    try:
        gdf = gpd.read_file(geo_dir().joinpath(*DISTRICT_FILE))
    except (AirAtlasError, OSError, ValueError):  # without boundaries places are simply unnamed
        return None
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    return gdf[["geometry", "city", "name"]]


def district_names(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Label of the district containing each point ``(n,)`` (degrees) → object array ``(n,)``; '' outside."""
    import geopandas as gpd

    lat, lon = np.asarray(lat, float).ravel(), np.asarray(lon, float).ravel()
    out = np.full(len(lat), "", dtype=object)
    districts = _districts()
    if districts is None or not len(lat):
        return out
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(pts, districts, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")].sort_index()
    label = (joined["city"].fillna("").str.replace("市", "", regex=False) + " " + joined["name"].fillna("")).str.strip()
    return label.to_numpy(dtype=object)
