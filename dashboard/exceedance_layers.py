"""Pure builders for exceedance-day maps (no ``st.*`` calls): days above a limit as a classed image."""

from __future__ import annotations

import numpy as np

from dashboard.layers import hex_color, mercator_rows

DAY_COLORS = ((255, 255, 229), (254, 227, 145), (254, 178, 76), (240, 59, 32), (189, 0, 38), (103, 0, 13))


def day_breaks(n_days: int) -> tuple[float, ...]:
    """Class edges for 0 … n_days: none, then five equal shares of the period."""
    step = n_days / 5
    return (0.5, *(round(step * k, 1) for k in range(1, 5)))


def days_rgba(days: np.ndarray, lat: np.ndarray, n_days: int, alpha: int = 200) -> np.ndarray:
    """RGBA image of days above ``(lat, lon)``, north up, NaN transparent."""
    img = np.asarray(days, float)[mercator_rows(lat)]
    cls = np.digitize(np.where(np.isfinite(img), img, 0), day_breaks(n_days), right=True)  # (b_k-1, b_k]
    rgba = np.zeros((*img.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.array(DAY_COLORS, dtype=np.uint8)[cls]
    rgba[..., 3] = np.where(np.isfinite(img), alpha, 0)
    return rgba


def days_legend_html(title: str, n_days: int) -> str:
    edges = [*day_breaks(n_days), float(n_days)]
    labels = ["0"]
    for a, b in zip(edges[:-1], edges[1:], strict=True):  # whole days in (a, b]
        lo, hi = int(np.floor(a)) + 1, int(np.floor(b))
        labels.append(f"{lo}" if lo >= hi else f"{lo}–{hi}")
    rows = "".join(
        f'<span style="display:inline-block;margin:0 10px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:14px;height:14px;background:{hex_color(c)};'
        f'border:1px solid #555;vertical-align:middle;margin-right:4px"></span>{lab}</span>'
        for c, lab in zip(DAY_COLORS, labels, strict=True)
    )
    return f'<div style="font-size:0.85rem"><b>{title}</b><br>{rows}</div>'


def days_scale(n_days: int):
    """The days-above colours as an uncertainty Scale: "how sure" hatches cells whose count on the lower
    and on the upper bound of the 90 % interval fall in different classes; the width is the undecided days."""
    from dashboard.uncertainty_layers import Scale

    breaks = day_breaks(n_days)
    return Scale(rgba=lambda d, lat: days_rgba(d, lat, n_days), classes=lambda d: np.digitize(d, breaks, right=True),
                 width_rgba=lambda d, lat: days_rgba(d, lat, n_days),
                 legend=lambda t: days_legend_html(t, n_days), width_legend=lambda t: days_legend_html(t, n_days),
                 what="Days above", unit="days", classes_name="legend class")
