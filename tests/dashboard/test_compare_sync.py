"""Compare: one shared view for every map (side by side) or a swipe in one deck; pure builders and AppTest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.compare_layers import shared_view, split_column, swipe_layers
from tests.dashboard.conftest import assert_clean, make_app

LAT = np.linspace(39.0, 40.0, 5)
LON = np.linspace(116.0, 117.0, 6)  # cell edges every 0.2°, from 115.9 to 117.1


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.mark.parametrize(("split", "west"), [(115.0, 0), (116.1, 1), (116.5, 3), (118.0, 6)])
def test_split_column_counts_the_cells_west_of_the_split(split, west):
    assert split_column(LON, split) == west


@pytest.mark.parametrize("px", [1, 4])  # the estimate image and the hatched "how sure" one (4 px per cell)
def test_swipe_cuts_both_images_on_one_cell_edge(px):
    a = np.zeros((5, 6 * px, 4), np.uint8)
    b = np.full((5, 6 * px, 4), 255, np.uint8)
    lay = {layer.id: layer for layer in swipe_layers(a, b, LAT, LON, 116.5)}
    assert set(lay) == {"surface_a", "surface_b", "swipe_line"}
    edge = lay["surface_a"].bounds[2]
    assert edge == pytest.approx(116.5) and lay["surface_b"].bounds[0] == pytest.approx(edge)
    assert lay["surface_a"].bounds[0] == pytest.approx(115.9) and lay["surface_b"].bounds[2] == pytest.approx(117.1)
    assert lay["swipe_line"].data[0]["path"][0][0] == pytest.approx(edge)


def test_swipe_at_an_end_shows_one_scenario_only():
    img = np.zeros((5, 6, 4), np.uint8)
    assert {layer.id for layer in swipe_layers(img, img, LAT, LON, 200.0)} == {"surface_a", "swipe_line"}


def test_shared_view_centres_on_the_focus_and_zooms_in():
    bbox = (113.0, 36.0, 120.0, 42.6)
    base, near = shared_view(bbox, 560, 420), shared_view(bbox, 560, 420, (39.9, 116.4), 2.0)
    assert (base.latitude, base.longitude) == pytest.approx((39.3, 116.5))
    assert (near.latitude, near.longitude) == (39.9, 116.4) and near.zoom == pytest.approx(base.zoom + 2, abs=0.01)


def _decks(at) -> list[dict]:
    return [json.loads(d.proto.json) for d in at.get("deck_gl_json_chart")]


def test_side_by_side_maps_share_one_view_moved_by_one_control():
    at = make_app(page="compare")
    at.run()
    assert_clean(at)
    decks = _decks(at)
    assert len(decks) == 3  # A, B, difference
    views = [d["initialViewState"] for d in decks]
    assert all(v == views[0] for v in views)
    assert all(d["views"][0]["controller"] is False for d in decks)  # cannot be dragged apart
    city = at.selectbox(key="cmp_focus").options[1]
    at.selectbox(key="cmp_focus").set_value(city).run()
    at.slider(key="cmp_zoom").set_value(2.0).run()
    assert_clean(at)
    moved = [d["initialViewState"] for d in _decks(at)]
    assert all(v == moved[0] for v in moved) and moved[0] != views[0]
    assert moved[0]["zoom"] == pytest.approx(views[0]["zoom"] + 2, abs=0.01)


def test_swipe_is_one_deck_with_a_draggable_split():
    at = make_app(page="compare")
    at.run()
    at.radio(key="cmp_layout").set_value("swipe").run()
    assert_clean(at)
    swipe = _decks(at)[0]
    ids = [lay["id"] for lay in swipe["layers"]]
    assert "surface_a" in ids and "surface_b" in ids and "swipe_line" in ids
    edge = next(lay["bounds"][2] for lay in swipe["layers"] if lay["id"] == "surface_a")
    lo, hi = at.slider(key="cmp_split").min, at.slider(key="cmp_split").max
    at.slider(key="cmp_split").set_value(round(lo + 0.25 * (hi - lo), 2)).run()
    assert_clean(at)
    moved = next(lay["bounds"][2] for lay in _decks(at)[0]["layers"] if lay["id"] == "surface_a")
    assert moved < edge
    assert "Scores at the stations measured in both" in " ".join(s.value for s in at.subheader)


@pytest.mark.parametrize("zoom_in", [0.0, 1.5])
def test_city_labels_stay_inside_the_half_width_maps(zoom_in: float):
    """Each compare map's city labels lie wholly inside its frame (Qinhuangdao touched the east edge).

    These maps cannot zoom, so their labels are one image (dashboard.labels.labels_image): the labels placed
    for the map do not overlap and lie inside the frame, and so does the whole image they are drawn into.
    """
    from dashboard import loaders
    from dashboard.labels import inside_view, overlaps, place_labels, screen_xy
    from dashboard.layers import HALF_WIDTH_PX, ZoomLabels

    at = make_app(page="compare")
    at.run()
    at.slider(key="cmp_zoom").set_value(zoom_in).run()
    assert_clean(at)
    for deck, height in zip(_decks(at), (420, 420, 480), strict=True):
        places = [lay for lay in deck["layers"] if lay["id"] == "places"]
        if not places:
            pytest.skip("no place layer (geo layers not present)")
        v = deck["initialViewState"]
        frame = (v["latitude"], v["longitude"], HALF_WIDTH_PX, height)
        assert places[0]["@@type"] == "BitmapLayer"
        (zoom_labels,) = [lay for lay in loaders.context()[1] if isinstance(lay, ZoomLabels)]
        labels = place_labels(zoom_labels.places, v["zoom"], view=frame)
        assert len(labels) >= 2 and overlaps(labels, v["zoom"]) == 0
        assert inside_view(labels, v["zoom"], frame).all(), labels
        w, s, e, n = places[0]["bounds"]
        (cx,), (cy,) = screen_xy([v["latitude"]], [v["longitude"]], v["zoom"])
        xs, ys = screen_xy([s, n], [w, e], v["zoom"])
        assert (abs(xs - cx) <= HALF_WIDTH_PX / 2).all() and (abs(ys - cy) <= height / 2).all(), places[0]["bounds"]
