"""AppTest of the shared "Map shows" control on every page that draws a surface, and of the interval tooltips.

Each page: the three views draw three different surface images, the legend names the level (90 %), and the
station/probe tooltips carry the model's 90 % interval (lo–hi).
"""

from __future__ import annotations

import json

import pytest

from dashboard.uncertainty_layers import VIEWS
from tests.dashboard.conftest import assert_clean, make_app, texts

# page → (its view control's key, id of the surface layer, whether its tooltips give station/probe intervals)
SURFACE_PAGES = {"hotspots": ("hot_view", "surface", True), "compare": ("cmp_view", "surface", True),
                 "siting": ("site_view", "surface", True), "exceedance": ("exc_view", "days", False)}


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def _decks(at) -> list[dict]:
    return [json.loads(d.proto.json) for d in at.get("deck_gl_json_chart")]


def _images(at, layer_id: str) -> list[str]:
    return [lay["image"] for d in _decks(at) for lay in d["layers"] if lay.get("id") == layer_id]


@pytest.mark.parametrize("page", list(SURFACE_PAGES))
def test_every_surface_page_toggles_estimate_width_and_how_sure(page: str) -> None:
    key, layer_id, tooltips = SURFACE_PAGES[page]
    at = make_app(page=page)
    at.run()
    assert_clean(at)
    seen = {}
    for view in VIEWS:
        at.radio(key=key).set_value(view).run()
        assert_clean(at)
        imgs = _images(at, layer_id)
        assert imgs, f"{page}: no '{layer_id}' layer drawn in view {view}"
        seen[view] = tuple(imgs)
        legend = texts(at)
        assert "90 %" in legend, f"{page} / {view}: the legend does not say the level"
        if view == "how sure":
            assert "spans more than one" in legend
    assert len(set(seen.values())) == len(VIEWS), f"{page}: two views drew the same image"
    if tooltips:
        rows = [r for d in _decks(at) for lay in d["layers"] if lay.get("id") in ("stations", "probe")
                for r in (lay.get("data") or [])]
        assert rows and any("90 % interval" in str(r.get("interval", "")) and "–" in str(r["interval"])
                            for r in rows), f"{page}: no station/probe tooltip gives the 90 % interval"


def test_masking_lab_tooltips_and_band_give_the_interval() -> None:
    from dashboard import loaders

    hidden = ",".join(loaders.load_dataset("demo")["station"].values.astype(str)[:4])
    at = make_app(page="masking_lab", masked=hidden)
    at.run()
    assert_clean(at)
    rows = [r for d in _decks(at) for lay in d["layers"] if lay.get("id") in ("stations", "bubbles")
            for r in (lay.get("data") or [])]
    assert any("idw 90 % interval" in str(r.get("interval", "")) for r in rows)
    fig = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert any("90 % interval" in str(tr.get("name", "")) for tr in fig["data"])


def test_exceedance_table_gives_the_interval_of_people_days() -> None:
    at = make_app(page="exceedance")
    at.run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert "people × days above, 90 % interval" in table
    assert table["people × days above, 90 % interval"].str.contains("–").all()


def test_day_player_frames_follow_the_view() -> None:
    at = make_app()
    at.session_state["hot_player_open"] = True
    at.run()
    estimate = _images(at, "surface")
    at.radio(key="hot_view").set_value("interval width").run()
    assert_clean(at)
    assert any("width of the 90 % interval" in c.value for c in at.caption)
    assert _images(at, "surface") != estimate
