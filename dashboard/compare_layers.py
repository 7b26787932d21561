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
