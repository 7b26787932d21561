"""Downloads of what is on screen, made offline (pure: bytes out, no ``st.*`` calls).

- the map as PNG and a one-page PDF brief (matplotlib, Agg and PDF backends);
- the surface as GeoTIFF (rioxarray, EPSG:4326, north up; bands estimate / 90 % lo / hi when present)
  and as CF NetCDF (the day's hourly surface with its CF attributes and WGS84 grid mapping).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from dashboard.layers import AQI_COLORS, AQI_LABELS, aqi_rgb


def shown_dataset(grid: xr.Dataset, hour: int | None) -> xr.Dataset:
    """The (lat, lon) surface on screen: one hour, or the daily mean of every variable (attrs kept)."""
    sel = grid.isel(time=hour) if hour is not None else grid.mean("time", keep_attrs=True)
    for v in sel.data_vars:
        sel[v].attrs = grid[v].attrs
    sel.attrs = dict(grid.attrs) | {"period": "daily mean" if hour is None else f"hour {hour:02d}:00"}
    return sel


def geotiff_bytes(surface: xr.Dataset) -> bytes:
    """A (lat, lon) surface as a GeoTIFF: band 1 = pm25, then pm25_lo, pm25_hi when present (µg/m³)."""
    import rioxarray  # noqa: F401  (registers .rio)

    names = [v for v in ("pm25", "pm25_lo", "pm25_hi") if v in surface]
    da = xr.concat([surface[v].astype("float32") for v in names], dim="band")
    da = da.assign_coords(band=np.arange(1, len(names) + 1))
    da = da.sortby("lat", ascending=False).rio.set_spatial_dims(x_dim="lon", y_dim="lat").rio.write_crs("EPSG:4326")
    da.attrs = {"units": "ug m-3", "long_name": "PM2.5 mass concentration", "bands": ",".join(names)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "surface.tif"
        da.rio.to_raster(path, compress="DEFLATE")
        return path.read_bytes()


def netcdf_bytes(grid: xr.Dataset) -> bytes:
    """The hourly surface (time, lat, lon) as CF-1.8 NetCDF with a WGS84 grid mapping."""
    from core.io import with_crs

    ds = with_crs(grid.copy())
    ds.attrs.setdefault("Conventions", "CF-1.8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "surface.nc"
        ds.to_netcdf(path, engine="netcdf4")
        return path.read_bytes()


def _outlines(ax, geojson: dict | None, color: str, width: float) -> None:
    if not geojson:
        return
    import shapely.geometry as sg

    for feat in geojson.get("features", []):
        geom = sg.shape(feat["geometry"])
        polys = getattr(geom, "geoms", [geom])
        for p in polys:
            if hasattr(p, "exterior"):
                x, y = p.exterior.xy
                ax.plot(x, y, color=color, linewidth=width)


def _draw_map(ax, field: np.ndarray, lat: np.ndarray, lon: np.ndarray, geo: dict | None,
              sites: pd.DataFrame | None = None) -> None:
    from matplotlib.patches import Patch

    rgba = np.concatenate([aqi_rgb(field), np.where(np.isfinite(field), 200, 0)[..., None]], axis=-1).astype(np.uint8)
    d_lat, d_lon = (lat[-1] - lat[0]) / max(len(lat) - 1, 1), (lon[-1] - lon[0]) / max(len(lon) - 1, 1)
    ax.imshow(rgba, origin="lower", extent=(lon[0] - d_lon / 2, lon[-1] + d_lon / 2, lat[0] - d_lat / 2,
                                            lat[-1] + d_lat / 2), interpolation="nearest")
    geo = geo or {}
    _outlines(ax, geo.get("city"), "#333333", 0.6)
    _outlines(ax, geo.get("province"), "black", 1.2)
    if sites is not None and len(sites):
        ax.scatter(sites["lon"], sites["lat"], s=40, c="#1f5ac8", edgecolors="white", zorder=5)
        for r in sites.itertuples():
            ax.annotate(str(r.rank), (r.lon, r.lat), xytext=(4, 4), textcoords="offset points", fontsize=7)
    ax.set_xlim(lon[0] - d_lon, lon[-1] + d_lon)
    ax.set_ylim(lat[0] - d_lat, lat[-1] + d_lat)
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(lat)))))
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    # English part of each label only: the Chinese name needs a CJK font the machine may lack
    handles = [Patch(color=np.array(c) / 255, label=lab.rsplit(" ", 1)[0])
               for c, lab in zip(AQI_COLORS, AQI_LABELS, strict=True)]
    ax.legend(handles=handles,
              loc="lower right", fontsize=6, title="PM2.5 µg/m³ (HJ 633-2012)", title_fontsize=6)


def map_png_bytes(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, source: str,
                  geo: dict | None = None, sites: pd.DataFrame | None = None) -> bytes:
    """The shown surface as a PNG map with outlines, legend (units), title and source line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 7.5), dpi=120)
    _draw_map(ax, np.asarray(field, float), np.asarray(lat), np.asarray(lon), geo, sites)
    ax.set_title(title, fontsize=10)
    fig.text(0.01, 0.01, f"Source: {source}", fontsize=6, color="#555555")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def brief_pdf_bytes(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, facts: Sequence[str],
                    method: str, sources: str, link: str, geo: dict | None = None) -> bytes:
    """A one-page A4 PDF brief: the map, key numbers, method, sources and the scenario link."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # district names are Chinese: fall back to a CJK font where one is installed (Debian: fonts-wqy-microhei)
    plt.rcParams["font.family"] = ["DejaVu Sans", "WenQuanYi Micro Hei"]
    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.06, 0.965, title, fontsize=14, weight="bold", va="top")
    ax = fig.add_axes((0.08, 0.40, 0.84, 0.53))
    _draw_map(ax, np.asarray(field, float), np.asarray(lat), np.asarray(lon), geo)
    y = 0.35
    fig.text(0.06, y, "Key numbers", fontsize=11, weight="bold")
    for line in facts:
        y -= 0.022
        fig.text(0.07, y, f"• {line}", fontsize=9)
    y -= 0.035
    fig.text(0.06, y, "Method", fontsize=11, weight="bold")
    fig.text(0.07, y - 0.01, method, fontsize=8, va="top", wrap=True)
    fig.text(0.06, 0.075, f"Sources: {sources}", fontsize=7, color="#444444", wrap=True)
    fig.text(0.06, 0.045, f"Scenario: {link}", fontsize=7, color="#1f5ac8", wrap=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    return buf.getvalue()
