"""Pure builders for showing how sure a map is (no ``st.*`` calls): interval width and "how sure" images.

The interval is the model's 90 % interval (``pm25_lo``/``pm25_hi``, µg/m³). "How sure": the estimate's
HJ 633 colours, with cells whose interval spans more than one category faded and hatched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pydeck as pdk

from dashboard.layers import (
    aqi_category,
    cell_bounds,
    hex_color,
    legend_html,
    mercator_rows,
    png_data_uri,
    surface_rgba,
)

LEVEL = "90 %"
# Interval-width classes (µg/m³) and a light-to-dark blue-purple ramp (readable on the light land layer).
WIDTH_BREAKS = (10.0, 20.0, 40.0, 80.0)
WIDTH_COLORS = ((237, 248, 251), (179, 205, 227), (140, 150, 198), (136, 86, 167), (129, 15, 124))
WIDTH_LABELS = ("< 10", "10–20", "20–40", "40–80", "> 80")
HATCH = 4  # image pixels per cell in "how sure" mode: room for a diagonal hatch


def spans_categories(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """True where the interval [lo, hi] covers more than one HJ 633 category (NaN → False)."""
    return _spans(aqi_category, lo, hi)


def width_rgba(width: np.ndarray, lat: np.ndarray, alpha: int = 190) -> np.ndarray:
    """RGBA image of the interval width ``(lat, lon)`` µg/m³ by WIDTH_BREAKS classes, north up, NaN clear."""
    img = np.asarray(width, float)[mercator_rows(lat)]
    cls = np.digitize(np.where(np.isfinite(img), img, 0), WIDTH_BREAKS)
    rgba = np.zeros((*img.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.array(WIDTH_COLORS, dtype=np.uint8)[cls]
    rgba[..., 3] = np.where(np.isfinite(img), alpha, 0)
    return rgba


def hatch_rgba(rgba: np.ndarray, unsure: np.ndarray, faded: int = 70) -> np.ndarray:
    """``rgba`` (image rows, cols, 4) with the ``unsure`` pixels (same rows × cols) faded and diagonally hatched.

    The result has HATCH × HATCH pixels per input pixel so the hatch is visible at regional zoom.
    """
    rgba = rgba.copy()
    rgba[..., 3] = np.where(unsure & (rgba[..., 3] > 0), faded, rgba[..., 3])
    big = np.repeat(np.repeat(rgba, HATCH, axis=0), HATCH, axis=1)
    mask = np.repeat(np.repeat(unsure & (rgba[..., 3] > 0), HATCH, axis=0), HATCH, axis=1)
    r, c = np.indices(mask.shape)
    big[mask & ((r + c) % HATCH == 0)] = (60, 60, 60, 200)
    return big


def how_sure_rgba(field: np.ndarray, lo: np.ndarray, hi: np.ndarray, lat: np.ndarray, alpha: int = 190,
                  faded: int = 70) -> np.ndarray:
    """AQI colours of ``field``; cells whose interval spans > 1 category faded with a dark diagonal hatch."""
    return hatch_rgba(surface_rgba(field, lat, alpha), spans_categories(lo, hi)[mercator_rows(lat)], faded)


@dataclass(frozen=True)
class Scale:
    """How one kind of surface is drawn in each view, so every map page uses the same three views.

    ``rgba(values, lat)`` → image of the estimate; ``classes(values)`` → legend class per value (the
    "how sure" view hatches cells whose interval's ends fall in different classes); ``width_rgba(width, lat)``
    → image of the interval width; ``legend(title)`` / ``width_legend(title)`` → HTML legends.
    """

    rgba: Callable[[np.ndarray, np.ndarray], np.ndarray]
    classes: Callable[[np.ndarray], np.ndarray]
    width_rgba: Callable[[np.ndarray, np.ndarray], np.ndarray]
    legend: Callable[[str], str]
    width_legend: Callable[[str], str]
    what: str  # e.g. "PM2.5", "days above" (legend titles)
    unit: str
    classes_name: str  # what one class is called in the "how sure" note
    legend_note: str = ""  # after the legend title, e.g. which colour classes


def _spans(classes: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    return ok & (classes(np.where(ok, lo, 0)) != classes(np.where(ok, hi, 0)))


def _estimate(scale: Scale, field, lo, hi, lat) -> np.ndarray:
    return scale.rgba(field, lat)


def _width(scale: Scale, field, lo, hi, lat) -> np.ndarray:
    return scale.width_rgba(np.asarray(hi, float) - np.asarray(lo, float), lat)


def _how_sure(scale: Scale, field, lo, hi, lat) -> np.ndarray:
    return hatch_rgba(scale.rgba(field, lat), _spans(scale.classes, lo, hi)[mercator_rows(lat)])


# view name → image builder (a registry: a new view is one entry, every page gets it)
VIEW_IMAGES: dict[str, Callable[..., np.ndarray]] = {"estimate": _estimate, "interval width": _width,
                                                     "how sure": _how_sure}
VIEWS = tuple(VIEW_IMAGES)


def view_image(view: str, field: np.ndarray, lat: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None,
               scale: Scale | None = None) -> np.ndarray:
    """The RGBA image of ``view`` (one of VIEWS) for a ``(lat, lon)`` surface; without an interval: the estimate."""
    scale = scale or PM25
    build = VIEW_IMAGES[view] if lo is not None and hi is not None else _estimate
    return build(scale, field, lo, hi, lat)


def image_layer(rgba: np.ndarray, lat: np.ndarray, lon: np.ndarray, layer_id: str = "surface") -> pdk.Layer:
    """One BitmapLayer for one surface image (a PNG data-URI) over the grid's outer edges."""
    return pdk.Layer("BitmapLayer", id=layer_id, image=pdk.types.String(png_data_uri(rgba), quote_type=""),
                     bounds=cell_bounds(lat, lon), pickable=False)


def view_layer(view: str, field: np.ndarray, lat: np.ndarray, lon: np.ndarray, lo: np.ndarray | None,
               hi: np.ndarray | None, scale: Scale | None = None, layer_id: str = "surface") -> pdk.Layer:
    """The surface layer for ``view`` (one of VIEWS); without an interval every view is the estimate."""
    return image_layer(view_image(view, field, lat, lo, hi, scale), lat, lon, layer_id)


def width_legend_html(title: str) -> str:
    rows = "".join(
        f'<span style="display:inline-block;margin:0 10px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:14px;height:14px;background:{hex_color(c)};'
        f'border:1px solid #555;vertical-align:middle;margin-right:4px"></span>{lab}</span>'
        for c, lab in zip(WIDTH_COLORS, WIDTH_LABELS, strict=True)
    )
    return f'<div style="font-size:0.85rem"><b>{title}</b><br>{rows}</div>'


PM25 = Scale(rgba=lambda f, lat: surface_rgba(f, lat, 170), classes=aqi_category, width_rgba=width_rgba,
             legend=legend_html, width_legend=width_legend_html, what="Inferred PM2.5", unit="µg/m³",
             classes_name="HJ 633-2012 category", legend_note=", HJ 633-2012 AQI categories")


def how_sure_note(scale: Scale | None = None) -> str:
    name = (scale or PM25).classes_name
    return (f"Faded, hatched cells: the {LEVEL} interval spans more than one {name} there, "
            f"so the colour shown is not certain. Solid cells: the whole interval is in one {name}.")


def interval_text(lo: np.ndarray | None, hi: np.ndarray | None, n: int) -> list[str]:
    """Tooltip text per point: '90 % interval 40–75 µg/m³', or that the model gives none."""
    if lo is None or hi is None:
        return ["no interval from this model"] * n
    return [f"{LEVEL} interval {a:.0f}–{b:.0f} µg/m³" if np.isfinite(a) and np.isfinite(b) else "interval: –"
            for a, b in zip(np.asarray(lo, float), np.asarray(hi, float), strict=True)]


def probe_points(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, lo: np.ndarray | None = None,
                 hi: np.ndarray | None = None, step: int = 3) -> pd.DataFrame:
    """Every ``step``-th cell with its estimate and interval: pickable targets whose tooltip shows both."""
    la, lo_ = np.meshgrid(lat[::step], lon[::step], indexing="ij")
    vals = np.asarray(field, float)[::step, ::step]
    keep = np.isfinite(vals)

    def sub(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a, float)[::step, ::step][keep]

    la, lo_ = la[keep].round(4), lo_[keep].round(4)
    return pd.DataFrame({"lat": la, "lon": lo_, "pm25": vals[keep].round(1), "name": "grid cell", "city": "",
                         "code": [f"{a:.2f}°N {b:.2f}°E" for a, b in zip(la, lo_, strict=True)],
                         "status": "inferred", "interval": interval_text(sub(lo), sub(hi), int(keep.sum()))})


# One tooltip for stations and probes (same fields: dashboard.layers.station_frame + probe_points).
TOOLTIP = {"html": "<b>{name}</b> {city} {code}<br>{status} · PM2.5 {pm25} µg/m³<br>{interval}",
           "style": {"fontSize": "12px"}}


def probe_layer(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, lo: np.ndarray | None = None,
                hi: np.ndarray | None = None, step: int = 3) -> pdk.Layer:
    """Pickable probes every ``step``-th cell whose tooltip gives the estimate and its interval.

    Radius 0.75 × the probe spacing: neighbouring probes overlap, so hovering anywhere hits one.
    """
    from dashboard.layers import probe_layer as _layer

    res_m = float(abs(lat[1] - lat[0])) * step * 111_000 * 0.75 if len(lat) > 1 else 3000.0
    return _layer(probe_points(field, lat, lon, lo, hi, step), res_m)
