"""Exports open in the tools they are for: GeoTIFF in rasterio, NetCDF in xarray, PNG in Pillow, PDF is a PDF."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import grid_dataset
from dashboard.exports import brief_pdf_bytes, geotiff_bytes, map_png_bytes, netcdf_bytes, shown_dataset


@pytest.fixture
def grid() -> xr.Dataset:
    g = GridSpec.from_bbox((116.0, 39.0, 117.0, 40.0), res=0.1)
    times = pd.date_range("2019-01-12", periods=3, freq="h").values
    pm = np.arange(3 * 10 * 10, dtype=float).reshape(3, 10, 10) % 300
    return grid_dataset(times, g, pm, lo=pm * 0.8, hi=pm * 1.2, model="idw")


@pytest.mark.parametrize("hour", [None, 1])
def test_geotiff_is_georeferenced_north_up_with_interval_bands(grid, tmp_path, hour):
    import rasterio

    p = tmp_path / "s.tif"
    p.write_bytes(geotiff_bytes(shown_dataset(grid, hour)))
    with rasterio.open(p) as src:
        assert src.count == 3 and src.crs.to_epsg() == 4326
        assert src.bounds.left == pytest.approx(116.0) and src.bounds.top == pytest.approx(40.0)
        band = src.read(1)
    want = grid["pm25"].mean("time").values if hour is None else grid["pm25"].isel(time=hour).values
    assert np.allclose(band, want[::-1], atol=1e-3)  # first row = north


def test_netcdf_round_trips_with_cf_metadata(grid, tmp_path):
    p = tmp_path / "s.nc"
    p.write_bytes(netcdf_bytes(grid))
    with xr.open_dataset(p) as ds:
        assert ds["pm25"].attrs["standard_name"].startswith("mass_concentration_of_pm2p5")
        assert ds["pm25"].attrs["units"] == "ug m-3" and "spatial_ref" in ds
        assert np.allclose(ds["pm25"].values, grid["pm25"].values) and {"pm25_lo", "pm25_hi"} <= set(ds)


def test_png_and_pdf_open(grid):
    from PIL import Image

    field = grid["pm25"].mean("time").values
    lat, lon = grid["lat"].values, grid["lon"].values
    png = map_png_bytes(field, lat, lon, "PM2.5", "test", sites=pd.DataFrame({"rank": [1], "lat": [39.5],
                                                                              "lon": [116.5]}))
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size[0] > 400
    pdf = brief_pdf_bytes(field, lat, lon, "Brief", ["3 hotspots"], "IDW.", "CNEMC", "http://x/?date=2019-01-12")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
