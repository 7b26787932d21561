"""Pure builders of dashboard/layers.py: AQI colours, raster PNG, hotspot labelling, bubbles, wind, zoom."""

from __future__ import annotations

import base64
import io
import json
import math

import numpy as np
import pandas as pd
import pydeck as pdk
import pytest
from PIL import Image

from core.contracts.grid import BTH_BBOX
from dashboard import layers

# (value µg/m³, expected HJ 633-2012 category, RGB): both sides of every breakpoint; a value on a
# breakpoint belongs to the lower category (IAQI 50 at 35 µg/m³ is still "excellent").
CASES = [
    (0.0, 0, (0, 228, 0)), (35.0, 0, (0, 228, 0)), (35.01, 1, (255, 255, 0)), (75.0, 1, (255, 255, 0)),
    (75.5, 2, (255, 126, 0)), (115.0, 2, (255, 126, 0)), (115.1, 3, (255, 0, 0)), (150.0, 3, (255, 0, 0)),
    (150.1, 4, (153, 0, 76)), (250.0, 4, (153, 0, 76)), (250.1, 5, (126, 0, 35)), (1500.0, 5, (126, 0, 35)),
]


@pytest.mark.parametrize(("value", "cat", "rgb"), CASES)
def test_aqi_category_and_colour_at_each_boundary(value: float, cat: int, rgb: tuple[int, int, int]) -> None:
    assert layers.aqi_category(np.array([value]))[0] == cat
    assert tuple(layers.aqi_rgb(np.array([value]))[0]) == rgb


def test_aqi_nan_is_grey_and_legend_lists_all_categories() -> None:
    assert layers.aqi_category(np.array([np.nan]))[0] == -1
    assert tuple(layers.aqi_rgb(np.array([np.nan]))[0]) == (160, 160, 160)
    html = layers.legend_html()
    for c in layers.AQI_COLORS:
        assert layers.hex_color(c) in html
    assert "#00E400" in html and "#7E0023" in html


@pytest.mark.parametrize(("n_lat", "n_lon"), [(134, 130), (20, 7), (3, 50)])
def test_raster_png_shape_orientation_and_transparency(n_lat: int, n_lon: int) -> None:
    lat = np.linspace(36.0, 42.7, n_lat)
    field = np.full((n_lat, n_lon), 20.0)  # green everywhere …
    field[-1, :] = 300.0  # … maroon along the northernmost row
    field[0, 0] = np.nan  # south-west corner missing
    uri = layers.png_data_uri(layers.surface_rgba(field, lat, alpha=170))
    assert uri.startswith("data:image/png;base64,")
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert img.shape == (n_lat, n_lon, 4)
    assert tuple(img[0, 0, :3]) == (126, 0, 35)  # north is the image's top row
    assert tuple(img[-1, -1, :3]) == (0, 228, 0)
    assert img[-1, 0, 3] == 0 and img[-1, -1, 3] == 170  # NaN transparent, data at the chosen alpha


def test_mercator_rows_put_mid_latitude_north_of_the_linear_middle() -> None:
    lat = np.round(np.arange(36.025, 42.7, 0.05), 3)
    rows = layers.mercator_rows(lat)
    assert rows[0] == len(lat) - 1 and rows[-1] == 0
    assert np.all(np.diff(rows) <= 0)
    # In Mercator, the image's middle row lies north of the mean latitude.
    assert lat[rows[len(rows) // 2]] > lat.mean()


@pytest.mark.parametrize("n_rows", [None, 1, 7])
def test_mercator_rows_of_a_one_row_grid_all_show_that_row(n_rows) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it used to divide by a zero row spacing and cast NaN to int
        rows = layers.mercator_rows(np.array([39.0]), n_rows)
    assert rows.tolist() == [0] * (n_rows or 1)


def test_surface_layer_is_one_bitmap_with_grid_edges() -> None:
    lat, lon = np.array([36.05, 36.15, 36.25]), np.array([113.45, 113.55])
    layer = layers.surface_layer(np.ones((3, 2)) * 50, lat, lon)
    spec = json.loads(pdk.Deck(layers=[layer], map_provider=None).to_json())["layers"][0]
    assert spec["@@type"] == "BitmapLayer"
    assert spec["image"].startswith("data:image/png;base64,")  # a literal, not an accessor expression
    assert spec["bounds"] == pytest.approx([113.4, 36.0, 113.6, 36.3])


def test_error_bubbles_radius_proportional_to_mae_and_colour_by_bias_sign() -> None:
    frame = pd.DataFrame({"mae": [5.0, 10.0, 20.0, np.nan], "bias": [3.0, -4.0, 0.0, 1.0]})
    out = layers.error_bubbles(frame, m_per_ug=100.0)
    assert list(out["radius"]) == [500.0, 1000.0, 2000.0, 0.0]
    assert out.loc[0, "color"][:3] == list(layers.BIAS_COLORS["over"])
    assert out.loc[1, "color"][:3] == list(layers.BIAS_COLORS["under"])


def test_station_frame_fills_observed_and_hollows_hidden() -> None:
    fr = layers.station_frame(["A", "B"], ["a", "b"], ["北京", "天津"], [39.9, 39.1], [116.4, 117.2],
                              np.array([True, False]), np.array([80.0, np.nan]))
    assert fr.loc[0, "fill"] == [255, 126, 0, 235]
    assert fr.loc[1, "fill"][3] == 0 and list(fr["status"]) == ["observed", "hidden"]


@pytest.mark.parametrize(("u", "v", "dx_sign", "dy_sign"), [(3.0, 0.0, 1, 0), (0.0, -2.0, 0, -1), (-1.0, 1.0, -1, 1)])
def test_wind_arrows_point_downwind_with_length_by_speed(u: float, v: float, dx_sign: int, dy_sign: int) -> None:
    arrows = layers.wind_arrows([39.0], [116.0], [u], [v])
    (x0, y0), (x1, y1) = arrows.loc[0, "path"][:2]
    assert np.sign(round(x1 - x0, 9)) == dx_sign and np.sign(round(y1 - y0, 9)) == dy_sign
    assert arrows.loc[0, "speed"] == pytest.approx(np.hypot(u, v), abs=0.05)


def test_wind_arrows_skip_calm_and_missing() -> None:
    assert layers.wind_arrows([39.0, 39.0], [116.0, 116.1], [0.0, np.nan], [0.05, 1.0]).empty


def _pixel(lon: float, lat: float, bounds: list[float], shape: tuple[int, ...]) -> tuple[int, int]:
    """(row, col) of a point on a Web-Mercator image over ``bounds`` (W, S, E, N)."""
    from dashboard.mercator import mercator_y

    w, s, e, n = bounds
    col = (lon - w) / (e - w) * shape[1]
    row = (mercator_y(n) - mercator_y(lat)) / (mercator_y(n) - mercator_y(s)) * shape[0]
    return int(row), int(col)


def test_wind_image_draws_the_arrow_in_its_colour_and_nothing_elsewhere() -> None:
    arrows = layers.wind_arrows([39.0], [116.0], [3.0], [0.0], deg_per_ms=0.1, max_len_deg=0.3)  # 0.3° east
    rgba, bounds = layers.wind_image(arrows)
    assert bounds[0] < 116.0 and bounds[2] > 116.3 and bounds[1] < 39.0 < bounds[3]
    for lon in (116.02, 116.15, 116.28):  # along the shaft, tail to tip
        r, c = _pixel(lon, 39.0, bounds, rgba.shape)
        assert rgba[r, c, 3] > 100 and tuple(rgba[r, c, :3]) == layers.WIND_COLOR[:3]
    r, c = _pixel(116.15, 39.0 + 0.04, bounds, rgba.shape)  # beside the shaft, away from the head
    assert rgba[r, c, 3] == 0


def test_wind_layer_is_one_bitmap_over_the_arrows_and_none_without_arrows() -> None:
    arrows = layers.wind_arrows([39.0, 40.0], [116.0, 117.0], [3.0, -2.0], [1.0, 2.0])
    spec = json.loads(layers.wind_layer(arrows).to_json())
    assert spec["@@type"] == "BitmapLayer" and spec["id"] == "wind"
    assert spec["image"].startswith("data:image/png;base64,")
    assert spec["bounds"] == pytest.approx(layers.wind_image(arrows)[1])
    assert layers.wind_layer(layers.wind_arrows([39.0], [116.0], [0.0], [0.0])) is None


@pytest.mark.parametrize(("bbox", "lo", "hi"),
                         [((113.4, 36.0, 119.9, 42.7), 5.0, 6.2), ((116.0, 39.6, 116.8, 40.4), 8.0, 9.5)])
def test_fit_zoom_frames_the_region(bbox, lo: float, hi: float) -> None:
    assert lo <= layers.fit_zoom(bbox, 900, 560) <= hi


def test_deck_is_offline_by_default() -> None:
    d = layers.deck([], (113.4, 36.0, 119.9, 42.7))
    assert d.map_provider is None
    assert layers.deck([], (113.4, 36.0, 119.9, 42.7), online_basemap=True).map_provider == "carto"


def test_influence_frame_orders_sources_and_splits_shares() -> None:
    fr = layers.influence_frame([39.0, 39.5, 40.0], [116.0, 116.5, 117.0], 39.9, 116.4,
                                diffusion=[0.1, 0.5, 0.0], advection=[0.3, 0.1, 0.0], codes=["a", "b", "c"],
                                names=["A", "B", "C"])
    assert list(fr["code"]) == ["b", "a"]  # zero-share source dropped
    assert fr.loc[0, "diffusion_share"] == pytest.approx(0.5 / 0.6)
    assert fr.loc[0, "width"] > fr.loc[1, "width"]


@pytest.mark.parametrize("top", [3.0, 37.8, 58.7, 240.0])
def test_bubble_key_uses_the_bubble_radius_rule_and_spans_the_data(top: float) -> None:
    values = layers.key_values(np.array([1.0, top / 2, top]))
    assert 1 <= len(values) <= 3 and values == sorted(values) and max(values) >= 0.8 * top
    key = layers.bubble_key(BTH_BBOX, values)
    circles = key[key["kind"] == "circle"]
    assert circles["radius"].tolist() == [v * layers.BUBBLE_M_PER_UG for v in values]
    # same rule as the error bubbles: an MAE of v draws a bubble of the key's radius for v
    bub = layers.error_bubbles(pd.DataFrame({"mae": values, "bias": [1.0] * len(values)}))
    assert bub["radius"].tolist() == circles["radius"].tolist()
    assert (circles["lon"].diff().dropna() > 0).all()  # a row, left to right, inside the region's box
    assert circles["lon"].between(BTH_BBOX[0], BTH_BBOX[2]).all()
    assert "Error bubble = MAE (ug/m3)" in key["label"].tolist()
    lyr = layers.bubble_key_layers(key)
    assert [x.type for x in lyr] == ["ScatterplotLayer", "TextLayer"]


@pytest.mark.parametrize("width_px", [900, 1000, 1400])
def test_land_context_box_is_wider_than_the_lab_map_view(width_px: int) -> None:
    """The land fill is clipped to loaders.CONTEXT_BOX: a box smaller than the view drew a straight edge."""
    from dashboard.loaders import CONTEXT_BOX

    zoom = round(layers.fit_zoom(BTH_BBOX, width_px, 470), 2)
    lon_span = width_px * 360.0 / (512.0 * 2 ** zoom)
    mid = (BTH_BBOX[0] + BTH_BBOX[2]) / 2
    assert CONTEXT_BOX[0] < mid - lon_span / 2 and CONTEXT_BOX[2] > mid + lon_span / 2
    lat_span = 470 / width_px * lon_span * math.cos(math.radians(39.4))
    assert CONTEXT_BOX[1] < 39.4 - lat_span / 2 and CONTEXT_BOX[3] > 39.4 + lat_span / 2


def test_width_units_reach_deck_gl_as_a_constant_not_an_accessor() -> None:
    # pydeck turns a bare string into an "@@=" expression; deck.gl then gets no valid unit and the
    # lines were drawn as wide blobs hiding the surface. The unit must arrive as the literal "pixels".
    # (The wind arrows, which had the same bug, are an image now: test_wind_layer_is_one_bitmap_…)
    layer = layers.influence_layer(pd.DataFrame({"lon": [116.0], "lat": [39.0], "tlon": [116.5], "tlat": [39.5],
                                                 "color": [[0, 0, 255, 200]], "width": [2.0]}))
    spec = json.loads(layer.to_json())
    assert spec["widthUnits"] == "pixels"
