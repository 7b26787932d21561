"""Pure builders for comparing two surfaces (no ``st.*`` calls): a diverging difference image and its legend."""

from __future__ import annotations

import numpy as np

from dashboard.layers import hex_color, mercator_rows

# B − A in µg/m³: blue where B is lower, red where B is higher, white near zero (symmetric classes).
DIFF_BREAKS = (-50.0, -20.0, -5.0, 5.0, 20.0, 50.0)
DIFF_COLORS = ((33, 102, 172), (103, 169, 207), (209, 229, 240), (247, 247, 247), (253, 219, 199),
               (239, 138, 98), (178, 24, 43))
DIFF_LABELS = ("< −50", "−50…−20", "−20…−5", "−5…5", "5…20", "20…50", "> 50")


def diff_rgba(diff: np.ndarray, lat: np.ndarray, alpha: int = 200) -> np.ndarray:
    """RGBA image of a ``(lat, lon)`` difference field by DIFF_BREAKS classes, north up, NaN transparent."""
    img = np.asarray(diff, float)[mercator_rows(lat)]
    cls = np.digitize(np.where(np.isfinite(img), img, 0.0), DIFF_BREAKS)
    rgba = np.zeros((*img.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.array(DIFF_COLORS, dtype=np.uint8)[cls]
    rgba[..., 3] = np.where(np.isfinite(img), alpha, 0)
    return rgba


def diff_legend_html(title: str) -> str:
    rows = "".join(
        f'<span style="display:inline-block;margin:0 10px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:14px;height:14px;background:{hex_color(c)};'
        f'border:1px solid #555;vertical-align:middle;margin-right:4px"></span>{lab}</span>'
        for c, lab in zip(DIFF_COLORS, DIFF_LABELS, strict=True)
    )
    return f'<div style="font-size:0.85rem"><b>{title}</b><br>{rows}</div>'


def shared_stations(truth_a: np.ndarray, truth_b: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """bool (station,): candidates with at least one measurement in both scenarios (``(time, station)`` truths)."""
    return (np.asarray(candidates, bool) & np.isfinite(truth_a).any(axis=0) & np.isfinite(truth_b).any(axis=0))


def shared_view(bbox: tuple[float, float, float, float], width_px: float, height_px: float,
                focus: tuple[float, float] | None = None, zoom_in: float = 0.0):
    """One pdk.ViewState for every map of the page: centred on ``focus`` (lat, lon) or the bbox's centre, at
    the zoom that fits ``bbox`` (W, S, E, N) into ``width_px`` × ``height_px`` plus ``zoom_in`` levels."""
    import pydeck as pdk

    from dashboard.layers import fit_zoom

    w, s, e, n = bbox
    lat, lon = focus if focus is not None else ((s + n) / 2, (w + e) / 2)
    return pdk.ViewState(latitude=float(lat), longitude=float(lon),
                         zoom=round(fit_zoom(bbox, width_px, height_px) + zoom_in, 2), pitch=0, bearing=0)


def split_column(lon: np.ndarray, split_lon: float) -> int:
    """Number of grid columns (``lon`` ascending cell centres) west of ``split_lon``: those show A."""
    return int(np.searchsorted(np.asarray(lon, float), split_lon))


def swipe_layers(img_a: np.ndarray, img_b: np.ndarray, lat: np.ndarray, lon: np.ndarray, split_lon: float) -> list:
    """A swipe in one deck: scenario A's image west of ``split_lon``, B's east of it, and the split line.

    ``img_a``/``img_b``: RGBA images of the same grid (any whole number of pixels per cell, e.g. the
    hatched "how sure" view); both are cut on the same cell edge, so nothing is drawn twice or lost.
    """
    import pydeck as pdk

    from dashboard.layers import cell_bounds
    from dashboard.uncertainty_layers import image_layer

    w, s, e, n = cell_bounds(lat, lon)
    k = min(max(split_column(lon, split_lon), 0), len(lon))
    edge = w + (e - w) * k / len(lon)
    out = []
    for img, cols, bounds, lid in ((img_a, slice(0, k), [w, s, edge, n], "surface_a"),
                                   (img_b, slice(k, len(lon)), [edge, s, e, n], "surface_b")):
        px = img.shape[1] // len(lon)
        part = img[:, cols.start * px:cols.stop * px]
        if part.shape[1] == 0:
            continue
        out.append(image_layer(np.ascontiguousarray(part), lat, lon, lid, bounds=[float(b) for b in bounds]))
    line = [{"path": [[edge, s], [edge, n]]}]
    out.append(pdk.Layer("PathLayer", id="swipe_line", data=line, get_path="path", get_color=[20, 20, 20, 230],
                         width_min_pixels=3, pickable=False))
    return out
