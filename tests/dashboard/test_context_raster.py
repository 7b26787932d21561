"""The map context drawn as Web-Mercator images (dashboard.context_raster, layers.context_bitmaps)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from dashboard.context_raster import Stroke, geojson_bounds, mercator_y_deg, rasterize
from dashboard.layers import context_bitmaps


def _square(w: float, s: float, e: float, n: float) -> dict:
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}


def _decode(layer) -> np.ndarray:
    uri = str(layer.image)
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGBA"))


def test_fill_lands_on_mercator_rows_and_outside_stays_transparent():
    bounds = (110.0, 30.0, 120.0, 50.0)
    img = rasterize([Stroke(_square(112.0, 40.0, 114.0, 45.0), (0, 0, 0, 255), 0, fill=(10, 20, 30, 255))],
                    bounds, px_per_deg=20)
    top, bottom = mercator_y_deg(50.0), mercator_y_deg(30.0)
    assert img.shape == (round((top - bottom) * 20), 200, 4)

    def row(lat: float) -> int:
        return int((top - mercator_y_deg(lat)) / (top - bottom) * img.shape[0])

    col = int((113.0 - 110.0) * 20)
    assert tuple(img[row(42.5), col]) == (10, 20, 30, 255)  # inside the square
    assert img[row(46.0), col, 3] == 0 and img[row(39.0), col, 3] == 0  # just north / south of it
    assert img[row(42.5), int((116.0 - 110.0) * 20), 3] == 0  # east of it
    # Mercator, not plate carrée: 40–45 °N spans more rows than 30–35 °N would.
    assert row(40.0) - row(45.0) > row(30.0) - row(35.0)


@pytest.mark.parametrize("width_px", [1.0, 3.0])
def test_outline_is_drawn_with_its_alpha_and_fill_is_not(width_px: float):
    img = rasterize([Stroke(_square(112.0, 40.0, 114.0, 45.0), (200, 0, 0, 128), width_px)],
                    (110.0, 38.0, 116.0, 47.0), px_per_deg=40)
    alpha = img[..., 3]
    assert 0 < alpha.max() <= 128  # the line, at most its own opacity
    inside = img[img.shape[0] // 2, int(3.0 * 40)]
    assert inside[3] == 0  # no fill was asked for
    assert (alpha > 0).sum() < alpha.size * 0.1


def test_context_bitmaps_are_bitmap_layers_over_the_outlines_bounds():
    land = _square(100.0, 25.0, 130.0, 50.0)
    district = _square(114.0, 37.0, 118.0, 41.0)
    geo = {"countries": land, "district": district, "city": district, "province": _square(105.0, 30.0, 125.0, 45.0),
           "places": None}
    below, above = context_bitmaps(geo, land=True)
    assert [lay.type for lay in below] == ["BitmapLayer"] and [lay.type for lay in above] == ["BitmapLayer"]
    assert below[0].bounds == list(geojson_bounds([land]))
    # The sharp outline image covers the districts (with a margin), not the wide neighbouring provinces.
    w, s, e, n = above[0].bounds
    assert (w, s) == pytest.approx((113.7, 36.7)) and (e, n) == pytest.approx((118.3, 41.3))
    assert _decode(above[0])[..., 3].max() > 0 and _decode(below[0])[..., 3].max() == 255
    assert context_bitmaps(geo, land=False)[0] == []  # online basemap: no land image under it


def test_a_wide_land_gets_fewer_pixels_per_degree():
    from dashboard.layers import MAX_IMAGE_PX

    geo = {"countries": _square(70.0, 15.0, 140.0, 55.0), "district": None, "city": None, "province": None,
           "places": None}
    img = _decode(context_bitmaps(geo)[0][0])
    assert max(img.shape[:2]) <= MAX_IMAGE_PX and img[..., 3].max() == 255


def test_palette_png_keeps_colours_and_alpha():
    from dashboard.layers import palette_png_data_uri

    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[5:20, 5:30] = (238, 236, 228, 255)
    rgba[25:30, :] = (90, 90, 90, 110)
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(palette_png_data_uri(rgba).split(",", 1)[1])))
                      .convert("RGBA")).astype(int)
    assert np.abs(back - rgba.astype(int)).max() <= 16
    assert back[0, 0, 3] == 0 and back[10, 10, 3] == 255


def test_a_drawn_context_is_read_back_from_disk_and_any_change_draws_again(tmp_path, monkeypatch):
    import dashboard.context_raster as cr

    monkeypatch.setenv("AIRATLAS_CACHE", str(tmp_path))
    strokes = [Stroke(_square(112.0, 40.0, 114.0, 45.0), (200, 0, 0, 128), 2.0, fill=(10, 20, 30, 255))]
    bounds = (110.0, 38.0, 116.0, 47.0)
    first = rasterize(strokes, bounds, px_per_deg=20)
    calls = []
    real = cr.draw_strokes
    monkeypatch.setattr(cr, "draw_strokes", lambda *a: calls.append(a) or real(*a))
    np.testing.assert_array_equal(rasterize(strokes, bounds, px_per_deg=20), first)
    assert calls == []  # read from disk
    other = [Stroke(strokes[0].geojson, (0, 200, 0, 128), 2.0, fill=(10, 20, 30, 255))]
    assert not np.array_equal(rasterize(other, bounds, px_per_deg=20), first) and len(calls) == 1
    rasterize(strokes, bounds, px_per_deg=21)
    assert len(calls) == 2
    for entry in (tmp_path / "display").glob("context-*.npy"):
        entry.write_bytes(entry.read_bytes()[:50])  # truncated: drawn again, same image
    np.testing.assert_array_equal(rasterize(strokes, bounds, px_per_deg=20), first)
    assert len(calls) == 3
