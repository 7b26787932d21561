"""Map context (land, admin outlines) drawn once into Web-Mercator images for a deck.gl BitmapLayer.

Why: as GeoJSON vector layers the ~10⁵ outline vertices cost the browser ~5 s of CPU on every rerun
of a map (measured: hour change on Hotspots, headless Chromium with its software WebGL), against
~1.7 s with no context at all; as two images they cost one texture each, uploaded once per page.

Images are antialiased (drawn at ``SUPERSAMPLE``× and box-filtered down); rows are spaced evenly in
Web-Mercator y, the projection of the web map, so a BitmapLayer stretched over ``bounds`` puts every
line where it belongs. Pure numpy/Pillow: no ``st.*`` here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageDraw

from core.paths import cache_dir
from dashboard.mercator import mercator_y

SUPERSAMPLE = 2


@dataclass(frozen=True)
class Stroke:
    """One GeoJSON layer's look: RGBA line colour, line width in image pixels, optional RGBA fill."""

    geojson: dict
    color: tuple[int, int, int, int]
    width_px: float
    fill: tuple[int, int, int, int] | None = None


def mercator_y_deg(lat_deg: float | np.ndarray) -> float | np.ndarray:
    """Web-Mercator y in degree units (equal to longitude degrees at the equator)."""
    return np.degrees(mercator_y(lat_deg))


def _rings(geom: dict) -> Iterator[list[list[float]]]:
    """Every exterior/interior ring (or line) of a GeoJSON geometry."""
    t, c = geom.get("type"), geom.get("coordinates")
    if t == "Polygon":
        yield from c
    elif t == "MultiPolygon":
        for poly in c:
            yield from poly
    elif t == "LineString":
        yield c
    elif t == "MultiLineString":
        yield from c
    elif t == "GeometryCollection":
        for g in geom.get("geometries", []):
            yield from _rings(g)


def _polygons(geom: dict) -> Iterator[list[list[list[float]]]]:
    t, c = geom.get("type"), geom.get("coordinates")
    if t == "Polygon":
        yield c
    elif t == "MultiPolygon":
        yield from c
    elif t == "GeometryCollection":
        for g in geom.get("geometries", []):
            yield from _polygons(g)


def geojson_bounds(geojsons: Sequence[dict]) -> tuple[float, float, float, float]:
    """``(W, S, E, N)`` of every vertex of the features."""
    lo = [math.inf, math.inf]
    hi = [-math.inf, -math.inf]
    for gj in geojsons:
        for f in gj.get("features", []):
            for ring in _rings(f.get("geometry") or {}):
                a = np.asarray(ring, float)[:, :2]
                lo = np.minimum(lo, a.min(axis=0))
                hi = np.maximum(hi, a.max(axis=0))
    if not np.isfinite(lo).all():
        raise ValueError("no coordinates in the GeoJSON layers")
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def rasterize(strokes: Sequence[Stroke], bounds: Sequence[float], px_per_deg: float) -> np.ndarray:
    """RGBA ``(rows, cols, 4)`` uint8 of ``strokes`` (drawn in order, later on top) over ``bounds`` (W, S, E, N).

    ``px_per_deg``: image pixels per degree of longitude; rows follow Web-Mercator y, north up.

    Drawn once and kept on disk (``$AIRATLAS_CACHE/display``), keyed by the strokes, the extent, this module's
    code and Pillow's version: drawing the context takes ~0.5 s of every cold server start, reading it ~0.01 s.
    """
    h = hashlib.sha256(f"{list(bounds)}|{px_per_deg}|{PIL.__version__}|".encode())
    h.update(Path(__file__).read_bytes())
    for st in strokes:
        h.update(json.dumps([st.geojson, st.color, st.width_px, st.fill], sort_keys=True).encode())
    entry = cache_dir() / "display" / f"context-{h.hexdigest()[:32]}.npy"
    try:
        return np.load(entry, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # absent, or unreadable: drawn again below
        pass
    rgba = draw_strokes(strokes, bounds, px_per_deg)
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f"{entry.stem}.tmp{os.getpid()}.npy")
    np.save(tmp, rgba, allow_pickle=False)
    os.replace(tmp, entry)  # a killed process never leaves a half-written entry
    return rgba


def draw_strokes(strokes: Sequence[Stroke], bounds: Sequence[float], px_per_deg: float) -> np.ndarray:
    """:func:`rasterize` without the cache (for images that change with every scenario, e.g. the wind)."""
    w, s, e, n = bounds
    top, bottom = float(mercator_y_deg(n)), float(mercator_y_deg(s))
    cols = max(1, round((e - w) * px_per_deg))
    rows = max(1, round((top - bottom) * px_per_deg))
    k = SUPERSAMPLE
    sx, sy = cols * k / (e - w), rows * k / (top - bottom)
    canvas = Image.new("RGBA", (cols, rows), (0, 0, 0, 0))

    def xy(ring) -> list[tuple[float, float]]:
        a = np.asarray(ring, float)
        return list(zip((a[:, 0] - w) * sx, (top - mercator_y_deg(a[:, 1])) * sy, strict=True))

    def paint(mask: Image.Image, rgba: tuple[int, int, int, int]) -> None:
        nonlocal canvas
        layer = Image.new("RGBA", (cols, rows), (*rgba[:3], 0))
        layer.putalpha(mask.reduce(k).point(lambda v: v * rgba[3] // 255))  # box filter: antialiased edges
        canvas = Image.alpha_composite(canvas, layer)

    for st in strokes:
        features = [f.get("geometry") or {} for f in st.geojson.get("features", [])]
        if st.fill is not None:
            mask = Image.new("L", (cols * k, rows * k), 0)
            draw = ImageDraw.Draw(mask)
            for g in features:
                for poly in _polygons(g):
                    draw.polygon(xy(poly[0]), fill=255)
                    for hole in poly[1:]:
                        draw.polygon(xy(hole), fill=0)
            paint(mask, st.fill)
        if st.width_px > 0:
            mask = Image.new("L", (cols * k, rows * k), 0)
            draw = ImageDraw.Draw(mask)
            width = max(1, round(st.width_px * k))
            for g in features:
                for ring in _rings(g):
                    draw.line(xy(ring), fill=255, width=width)
            paint(mask, st.color)
    return np.asarray(canvas)
