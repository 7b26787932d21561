"""Exceedance-day images: zero days in the first class, the longest in the last, NaN clear; legend covers the period."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.exceedance_layers import DAY_COLORS, day_breaks, days_legend_html, days_rgba


@pytest.mark.parametrize("n_days", [3, 31, 365])
def test_classes_span_the_period(n_days):
    b = day_breaks(n_days)
    assert b[0] == 0.5 and list(b) == sorted(b) and b[-1] < n_days
    img = days_rgba(np.array([[0.0, float(n_days)], [np.nan, 1.0]]), np.array([39.0, 39.1]), n_days)
    colours = [tuple(px[:3]) for px in img.reshape(-1, 4) if px[3] > 0]
    assert DAY_COLORS[0] in colours and DAY_COLORS[-1] in colours and (img[..., 3] == 0).sum() == 1
    assert "Days above" in days_legend_html("Days above", n_days)


def test_legend_labels_whole_days():
    import re

    labels = re.findall(r"</span>([^<]*)</span>", days_legend_html("Days", 5))
    assert labels == ["0", "1", "2", "3", "4", "5"]
    assert re.findall(r"</span>([^<]*)</span>", days_legend_html("Days", 31))[-1] == "25–31"
    img = days_rgba(np.array([[1.0, 2.0]]), np.array([39.0]), 5)
    assert tuple(img[0, 0, :3]) == DAY_COLORS[1] and tuple(img[0, 1, :3]) == DAY_COLORS[2]
