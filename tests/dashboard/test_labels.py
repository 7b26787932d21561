"""City labels: greedy by population, no two boxes overlapping at the map's zoom, more labels as it zooms in."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.labels import overlaps, place_labels, screen_xy


@pytest.fixture
def crowded() -> pd.DataFrame:
    """Beijing and Tianjin with close satellites (the real crowding around Beijing: Sanhe, Langfang)."""
    return pd.DataFrame({"name": ["Beijing", "Sanhe", "Langfang", "Tianjin", "Baoding", "Far"],
                         "lat": [39.91, 39.98, 39.52, 39.14, 38.87, 42.0],
                         "lon": [116.40, 117.07, 116.70, 117.18, 115.46, 119.0],
                         "population": [11_700_000, 700_000, 760_000, 11_000_000, 1_000_000, 800_000]})


@pytest.mark.parametrize("zoom", [5.0, 5.5, 6.0, 7.0, 9.0])
def test_kept_labels_never_overlap(crowded: pd.DataFrame, zoom: float) -> None:
    kept = place_labels(crowded, zoom)
    assert overlaps(kept, zoom) == 0
    assert {"Beijing", "Tianjin"} <= set(kept["name"])  # the biggest places always get their label


def test_the_bigger_place_wins_a_clash(crowded: pd.DataFrame) -> None:
    kept = set(place_labels(crowded, 5.0)["name"])
    assert overlaps(crowded, 5.0) > 0  # without placement they do clash at regional zoom
    assert "Beijing" in kept and "Sanhe" not in kept


def test_zooming_in_keeps_more_labels(crowded: pd.DataFrame) -> None:
    counts = [len(place_labels(crowded, z)) for z in (5.0, 7.0, 10.0)]
    assert counts == sorted(counts) and counts[-1] == len(crowded)


def test_screen_pixels_double_per_zoom_level() -> None:
    x5, y5 = screen_xy([39.9], [116.4], 5)
    x6, y6 = screen_xy([39.9], [116.4], 6)
    assert x6[0] == pytest.approx(2 * x5[0]) and y6[0] == pytest.approx(2 * y5[0])


def test_decks_get_the_labels_of_their_zoom(crowded: pd.DataFrame) -> None:
    import json

    from dashboard.layers import ZoomLabels, deck

    labels = ZoomLabels(crowded)
    wide = json.loads(deck([labels], (113.0, 36.0, 120.0, 42.6), width_px=440, height_px=420).to_json())
    near = json.loads(deck([labels], (116.0, 39.3, 117.4, 40.2), width_px=900, height_px=600).to_json())
    names = [{r["name"] for r in d["layers"][0]["data"]} for d in (wide, near)]
    assert "Sanhe" in names[1] - names[0]  # a closer view has room for a neighbour of Beijing
    assert "Far" in names[0] and "Far" not in names[1]  # ... and no label of a place outside it


QINHUANGDAO = {"name": "Qinhuangdao", "lat": 39.941, "lon": 119.589, "population": 1_000_000}


def test_labels_stay_inside_the_map_frame(crowded: pd.DataFrame) -> None:
    """A label whose point is on the map but whose text would cross its edge (Qinhuangdao at the east edge of a
    compare map) is left out; the others are placed as before."""
    from core.contracts.grid import BTH_BBOX
    from dashboard.compare_layers import shared_view
    from dashboard.labels import inside_view, label_boxes

    places = pd.concat([crowded, pd.DataFrame([QINHUANGDAO])], ignore_index=True)
    v = shared_view(BTH_BBOX, 440, 420)
    (cx,), _ = screen_xy([v.latitude], [v.longitude], v.zoom)
    (qx,), _ = screen_xy([QINHUANGDAO["lat"]], [QINHUANGDAO["lon"]], v.zoom)
    (qw,), _ = label_boxes(pd.Series([QINHUANGDAO["name"]]))
    half = qx - cx + qw / 4  # the point inside the frame, the last quarter of its name beyond the east edge
    frame = (v.latitude, v.longitude, 2 * half, 420)
    q = places[places["name"] == "Qinhuangdao"]
    assert not inside_view(q, v.zoom, frame).all() and inside_view(q, v.zoom, (*frame[:2], 2 * half + qw, 420)).all()
    kept = place_labels(places, v.zoom, view=frame)
    assert inside_view(kept, v.zoom, frame).all() and overlaps(kept, v.zoom) == 0
    assert "Qinhuangdao" not in set(kept["name"]) and {"Beijing", "Tianjin"} <= set(kept["name"])
    assert "Qinhuangdao" in set(place_labels(places, v.zoom, view=(*frame[:2], 2 * half + qw, 420))["name"])
    assert "Qinhuangdao" in set(place_labels(places, v.zoom)["name"])  # no frame given: only the overlap rule


@pytest.mark.parametrize("zoom", [6.3, 8.0])
def test_labels_image_puts_each_name_above_its_point(crowded: pd.DataFrame, zoom: float) -> None:
    """The image's bounds span exactly its pixels at ``zoom`` (rows even in Mercator y), and dark text lies
    around OFFSET_PX above each place, where the TextLayer drew it; the image's edges stay clear."""

    from dashboard.labels import OFFSET_PX, labels_image

    kept = place_labels(crowded, zoom)
    scale = 2.0
    rgba, (w, s, e, n) = labels_image(kept, zoom, scale=scale)
    (x0, x1), (y1, y0) = screen_xy([s, n], [w, e], zoom)  # south edge → larger screen y
    assert rgba.shape[1] == pytest.approx((x1 - x0) * scale, abs=0.5)
    assert rgba.shape[0] == pytest.approx((y1 - y0) * scale, abs=0.5)
    dark = (rgba[..., 3] > 150) & (rgba[..., :3].max(axis=2) < 80)
    x, y = screen_xy(kept["lat"].to_numpy(), kept["lon"].to_numpy(), zoom)
    for xi, yi in zip((x - x0) * scale, (y + OFFSET_PX - y0) * scale, strict=True):
        r, c = int(round(yi)), int(round(xi))
        assert dark[r - 8:r + 8, c - 16:c + 16].any(), "no text at a label's place"
    assert rgba[0].max() == 0 and rgba[-1].max() == 0 and rgba[:, 0].max() == 0 and rgba[:, -1].max() == 0


def test_labels_image_of_no_places_is_none() -> None:
    from dashboard.labels import labels_image

    assert labels_image(pd.DataFrame({"name": [], "lat": [], "lon": []}), 6.0) is None


def test_a_deck_that_cannot_zoom_gets_its_labels_as_one_image(crowded: pd.DataFrame) -> None:
    """labels_as_image: the places layer is a BitmapLayer (no TextLayer: one shader program fewer per map)."""
    import json

    from dashboard.layers import ZoomLabels, deck

    bbox = (115.0, 38.5, 118.0, 40.5)
    spec = json.loads(deck([ZoomLabels(crowded)], bbox, labels_as_image=True).to_json())
    (places,) = [lay for lay in spec["layers"] if lay["id"] == "places"]
    assert places["@@type"] == "BitmapLayer" and places["image"].startswith("data:image/png;base64,")
    assert "TextLayer" not in {lay["@@type"] for lay in spec["layers"]}
    text = json.loads(deck([ZoomLabels(crowded)], bbox).to_json())
    assert [lay["@@type"] for lay in text["layers"] if lay["id"] == "places"] == ["TextLayer"]
