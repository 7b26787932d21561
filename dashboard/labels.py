"""City labels that do not overlap at a map's zoom (pure: no ``st.*``, no pydeck).

Greedy by priority (population): a place's label is kept when its box, in Web-Mercator screen pixels at the
map's zoom, stays ``pad_px`` clear of every label kept before it. Zooming in only moves labels apart, so a
set placed for the opening zoom never overlaps as the reader zooms in. Given the map's view (centre and size),
a label whose box would cross the map's edge is left out: no name is cut off at the frame.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dashboard.mercator import mercator_y

TILE_PX = 512  # deck.gl's world width at zoom 0
FONT_PX = 13  # dashboard.layers.labels_layer get_size
CHAR_EM = 0.62  # width of one character of deck.gl's default monospace font, in font sizes
OFFSET_PX = -14  # labels_layer get_pixel_offset: the text sits above its point


def screen_xy(lat: np.ndarray, lon: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Web-Mercator pixel coordinates (x east, y south) of degrees ``lat``/``lon`` at ``zoom``."""
    world = TILE_PX * 2.0 ** zoom
    x = (np.asarray(lon, float) + 180.0) / 360.0 * world
    y = (1.0 - mercator_y(lat) / math.pi) / 2.0 * world
    return x, y


def label_boxes(names: pd.Series, font_px: float = FONT_PX) -> tuple[np.ndarray, np.ndarray]:
    """Estimated (width, height) in pixels of each label's text."""
    n = names.astype(str).str.len().to_numpy(float)
    return n * CHAR_EM * font_px, np.full(len(n), float(font_px))


def inside_view(places: pd.DataFrame, zoom: float, view: tuple[float, float, float, float], pad_px: float = 4.0,
                font_px: float = FONT_PX) -> np.ndarray:
    """bool per row: the label's box lies ``pad_px`` inside the map ``view = (lat, lon, width_px, height_px)``
    (the map's centre and size in pixels)."""
    lat0, lon0, width, height = view
    cx, cy = screen_xy([lat0], [lon0], zoom)
    x, y = screen_xy(places["lat"].to_numpy(), places["lon"].to_numpy(), zoom)
    w, h = label_boxes(places["name"], font_px)
    return ((np.abs(x - cx[0]) + w / 2 + pad_px <= width / 2)
            & (np.abs(y + OFFSET_PX - cy[0]) + h / 2 + pad_px <= height / 2))


def place_labels(places: pd.DataFrame, zoom: float, pad_px: float = 4.0, font_px: float = FONT_PX,
                 priority: str = "population", view: tuple[float, float, float, float] | None = None) -> pd.DataFrame:
    """The rows of ``places`` (columns name, lat, lon and ``priority``) whose labels fit without overlap.

    Highest ``priority`` first; ties keep the input order. Returns the kept rows in priority order.
    ``view = (lat, lon, width_px, height_px)``: the map's centre and size; labels that would not lie wholly
    inside it are left out (before the overlap test, so they take no room from the others).
    """
    if places is None or len(places) == 0:
        return places
    order = places.sort_values(priority, ascending=False, kind="stable") if priority in places else places
    if view is not None:
        order = order[inside_view(order, zoom, view, pad_px, font_px)]
    x, y = screen_xy(order["lat"].to_numpy(), order["lon"].to_numpy(), zoom)
    y = y + OFFSET_PX
    w, h = label_boxes(order["name"], font_px)
    kept: list[int] = []
    for i in range(len(order)):
        k = np.asarray(kept, int)
        clash = ((np.abs(x[k] - x[i]) < (w[k] + w[i]) / 2 + pad_px)
                 & (np.abs(y[k] - y[i]) < (h[k] + h[i]) / 2 + pad_px))
        if not clash.any():
            kept.append(i)
    return order.iloc[kept]


def overlaps(places: pd.DataFrame, zoom: float, font_px: float = FONT_PX) -> int:
    """Number of label pairs whose boxes overlap at ``zoom`` (0 for a placed set): a check for tests and QA."""
    x, y = screen_xy(places["lat"].to_numpy(), places["lon"].to_numpy(), zoom)
    w, h = label_boxes(places["name"], font_px)
    dx, dy = np.abs(x[:, None] - x[None]), np.abs(y[:, None] - y[None])
    hit = (dx < (w[:, None] + w[None]) / 2) & (dy < (h[:, None] + h[None]) / 2)
    return int(np.triu(hit, 1).sum())


# The font deck.gl's TextLayer draws labels_layer with in Debian's Chromium (monospace, weight 600); any other
# monospace font Pillow can open, else Pillow's own, if it is missing.
LABEL_FONTS = ("DejaVuSansMono-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
               "LiberationMono-Bold.ttf")
HALO_PX = 2  # labels_layer outline_width: a white halo keeps names readable over the surface and outlines


def _label_font(size_px: float):
    from PIL import ImageFont

    for name in LABEL_FONTS:
        try:
            return ImageFont.truetype(name, size=max(1, round(size_px)))
        except OSError:
            continue
    return ImageFont.load_default(size=max(1, round(size_px)))


def labels_image(places: pd.DataFrame, zoom: float, scale: float = 2.0, font_px: float = FONT_PX,
                 color: tuple[int, int, int, int] = (20, 20, 20, 230),
                 halo: tuple[int, int, int, int] = (255, 255, 255, 220)) -> tuple[np.ndarray, list[float]] | None:
    """The names of ``places`` (name, lat, lon) drawn as on deck.gl's TextLayer at ``zoom`` (text centred
    OFFSET_PX above each point, ``font_px`` high, white halo) into one RGBA image, ``scale`` pixels per screen
    pixel, and its bounds ``[W, S, E, N]``; None without places.

    For maps whose zoom never changes (Compare: no controller): a BitmapLayer reuses the surface's shader
    program, whereas a TextLayer compiles its own per map in software WebGL (headless Chromium) — measured
    ~0.5 s of GPU-process CPU per map. Rows of the image are even in screen y, i.e. in Web-Mercator y, so the
    stretched image puts each name where the TextLayer did.
    """
    from PIL import Image, ImageDraw

    if places is None or len(places) == 0:
        return None
    font = _label_font(font_px * scale)
    names = places["name"].astype(str).tolist()
    x, y = screen_xy(places["lat"].to_numpy(), places["lon"].to_numpy(), zoom)
    y = y + OFFSET_PX
    est_w, est_h = label_boxes(places["name"], font_px)
    real_w = np.array([font.getlength(n) / scale for n in names])
    w, h = np.maximum(est_w, real_w), est_h * 1.4  # room for ascenders/descenders
    pad = HALO_PX + 2.0
    x0, x1 = float((x - w / 2).min() - pad), float((x + w / 2).max() + pad)
    y0, y1 = float((y - h / 2).min() - pad), float((y + h / 2).max() + pad)
    size = (max(1, math.ceil((x1 - x0) * scale)), max(1, math.ceil((y1 - y0) * scale)))
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for name, xi, yi in zip(names, x, y, strict=True):
        draw.text(((xi - x0) * scale, (yi - y0) * scale), name, font=font, fill=color, anchor="mm",
                  stroke_width=round(HALO_PX * scale), stroke_fill=halo)
    # Back from screen pixels to degrees (the image covers exactly size / scale screen pixels from x0, y0).
    world = TILE_PX * 2.0 ** zoom
    xe, ye = x0 + size[0] / scale, y0 + size[1] / scale

    def lat_of(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * yy / world))))

    bounds = [x0 / world * 360.0 - 180.0, lat_of(ye), xe / world * 360.0 - 180.0, lat_of(y0)]
    return np.asarray(img), [float(b) for b in bounds]
