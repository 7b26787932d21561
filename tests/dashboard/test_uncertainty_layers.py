"""Uncertainty views: category-spanning cells, width classes, hatch, tooltips with the 90 % interval."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.uncertainty_layers import (
    HATCH,
    VIEWS,
    how_sure_rgba,
    interval_text,
    probe_points,
    spans_categories,
    view_layer,
    width_rgba,
)

LAT = np.array([39.0, 39.1, 39.2])
LON = np.array([116.0, 116.1])


@pytest.mark.parametrize(("lo", "hi", "spans"), [(40, 70, False), (70, 80, True), (10, 300, True),
                                                  (75, 75, False), (np.nan, 80, False)])
def test_spans_categories(lo, hi, spans):
    assert bool(spans_categories(np.array([lo]), np.array([hi]))[0]) is spans


def test_width_classes_and_transparent_nan():
    w = np.array([[5.0, 15.0], [30.0, 60.0], [100.0, np.nan]])
    img = width_rgba(w, LAT)
    assert img.shape == (3, 2, 4)
    alpha = img[..., 3]
    assert alpha[0, 1] == 0 and (np.delete(alpha.ravel(), 1) > 0).all()  # only the NaN cell (north: top row) is clear
    assert len({tuple(px) for px in img[..., :3].reshape(-1, 3)}) == 5  # five distinct classes present


def test_how_sure_fades_and_hatches_only_uncertain_cells():
    field = np.full((3, 2), 50.0)
    lo, hi = field - 5, field + 5
    hi[0, 0] = 90.0  # spans good → lightly polluted; the southmost row is the image's bottom
    img = how_sure_rgba(field, lo, hi, LAT)
    assert img.shape == (3 * HATCH, 2 * HATCH, 4)
    cell = img[2 * HATCH:, :HATCH]  # south-west cell
    sure = img[:HATCH, HATCH:]
    assert (cell[..., 3] < 200).any() and ((cell[..., :3] == 60).all(axis=-1)).any()  # faded + hatch pixels
    assert (sure[..., 3] == 190).all()


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_builds_one_bitmap(view):
    field = np.full((3, 2), 50.0)
    layer = view_layer(view, field, LAT, LON, field - 10, field + 30)
    assert layer.type == "BitmapLayer" and str(layer.image).startswith("data:image/png;base64,")


def test_tooltips_carry_the_interval_or_say_there_is_none():
    assert interval_text(np.array([40.2]), np.array([75.6]), 1) == ["90 % interval 40–76 µg/m³"]
    assert interval_text(None, None, 2) == ["no interval from this model"] * 2
    pts = probe_points(np.full((3, 2), 50.0), LAT, LON, np.full((3, 2), 40.0), np.full((3, 2), 60.0), step=1)
    assert len(pts) == 6 and pts["interval"].str.contains("90 % interval 40–60").all()


def test_difference_image_is_diverging_and_stations_shared():
    from dashboard.compare_layers import DIFF_COLORS, diff_rgba, shared_stations

    d = np.array([[-80.0, 0.0], [3.0, 30.0], [90.0, np.nan]])
    img = diff_rgba(d, LAT)
    colours = {tuple(px[:3]) for px in img.reshape(-1, 4) if px[3] > 0}
    assert DIFF_COLORS[0] in colours and DIFF_COLORS[-1] in colours and DIFF_COLORS[3] in colours
    assert (img[..., 3] == 0).sum() == 1
    ta = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 4.0]])
    tb = np.array([[1.0, 2.0, np.nan], [2.0, np.nan, np.nan]])
    assert shared_stations(ta, tb, np.array([True, True, True])).tolist() == [True, False, False]


def test_how_sure_on_days_hatches_where_the_bounds_fall_in_different_classes():
    from dashboard.exceedance_layers import days_scale
    from dashboard.uncertainty_layers import view_image

    scale = days_scale(10)  # classes: 0 | 1–2 | 3–4 | 5–6 | 7–8 | 9–10
    days = np.array([[3.0, 3.0], [3.0, 3.0], [3.0, 3.0]])
    lo, hi = days.copy(), days.copy()
    hi[0, 0] = 9.0  # south-west cell: 3 days on the lower bound, 9 on the upper → another class
    img = view_image("how sure", days, LAT, lo, hi, scale)
    sw, ne = img[2 * HATCH:, :HATCH], img[:HATCH, HATCH:]
    assert ((sw[..., :3] == 60).all(axis=-1)).any() and (ne[..., 3] == 200).all()
    width = view_image("interval width", days, LAT, lo, hi, scale)
    assert width.shape == (3, 2, 4) and len({tuple(p) for p in width[..., :3].reshape(-1, 3)}) == 2


@pytest.mark.parametrize("view", VIEWS)
def test_without_an_interval_every_view_is_the_estimate(view):
    from dashboard.uncertainty_layers import view_image

    field = np.array([[10.0, 50.0], [80.0, 120.0], [200.0, 300.0]])
    assert np.array_equal(view_image(view, field, LAT, None, None), view_image("estimate", field, LAT, None, None))
