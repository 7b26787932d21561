"""Writers for gridded surfaces: Zarr, NetCDF, GeoTIFF (CF metadata, EPSG:4326)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from core.errors import InvalidRequest


def with_crs(ds: xr.Dataset) -> xr.Dataset:
    """Attach a CF grid-mapping (WGS84) so GIS tools read the surface georeferenced."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    out = ds.rio.write_crs("EPSG:4326")
    out = out.rio.set_spatial_dims(x_dim="lon", y_dim="lat")
    return out


def write_geotiff(surface: xr.Dataset, time: str | np.datetime64, path: str | Path, var: str = "pm25") -> Path:
    """Write one time step of ``surface[var]`` (µg/m³) as a single-band GeoTIFF (EPSG:4326)."""
    import rioxarray  # noqa: F401

    t = np.datetime64(time, "ns")
    if t not in surface["time"].values:
        first, last = surface["time"].values[[0, -1]]
        raise InvalidRequest(
            f"No surface at {np.datetime_as_string(t, 'h')}; the store spans "
            f"{np.datetime_as_string(first, 'h')} … {np.datetime_as_string(last, 'h')}."
        )
    da = surface[var].sel(time=t)
    da = da.rio.write_crs("EPSG:4326").rio.set_spatial_dims(x_dim="lon", y_dim="lat")
    da = da.sortby("lat", ascending=False)  # north-up raster
    da.attrs.pop("grid_mapping", None)
    path = Path(path)
    da.rio.to_raster(path, compress="DEFLATE")
    return path
