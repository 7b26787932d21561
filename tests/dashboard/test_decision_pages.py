"""AppTest of the decision controls (hotspot modes, prominence, uncertainty views, siting, compare) on the demo."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import assert_clean, make_app, texts

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def _subheaders(at) -> str:
    return " ".join(s.value for s in at.subheader)


def test_hotspot_modes_prominence_and_views():
    at = make_app()
    at.run()
    assert_clean(at)
    at.selectbox(key="hot_threshold").set_value("WHO 2021 AQG, 24-h (15 µg/m³)").run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert {"people inside", "confidence", "nearest monitor (km)", "hidden (>10 km from a monitor)"} <= set(table)
    n_low = len(table)
    at.number_input(key="hot_prominence").set_value(200.0).run()
    assert_clean(at)
    assert len(at.dataframe[0].value) <= n_low
    at.selectbox(key="hot_threshold").set_value("custom").run()
    at.number_input(key="hot_custom").set_value(40.0).run()
    assert_clean(at)
    assert "above 40 µg/m³" in _subheaders(at)
    at.radio(key="hot_mode").set_value("above the day's regional median").run()
    at.number_input(key="hot_margin").set_value(5.0).run()
    assert_clean(at)
    assert "regional median + 5" in _subheaders(at)


@pytest.mark.parametrize(("view", "legend"), [("interval width", "Width of the 90 % interval"),
                                              ("how sure", "Faded, hatched cells: the 90 % interval spans")])
def test_uncertainty_view_says_what_it_shows(view, legend):
    at = make_app()  # idw on the demo has a calibrated 90 % interval
    at.run()
    at.radio(key="hot_view").set_value(view).run()
    assert_clean(at)
    shown = texts(at)
    # the view's own legend, not the "gives no 90 % interval, so the map shows the estimate" fallback
    assert legend in shown and "gives no 90 % interval" not in shown


def test_siting_page_ranks_n_sites_and_reacts_to_its_controls():
    at = make_app(page="siting")
    at.run()
    assert_clean(at)
    assert "**10 proposed sites**" in texts(at)
    table = at.dataframe[0].value
    assert len(table) == 10 and {"district", "people in the cell", "benefit score"} <= set(table)
    assert "nearest observed monitor" in " ".join(m.value for m in at.markdown)  # the validated default
    at.radio(key="site_rank_by").set_value("width of the 90 % interval").run()
    assert_clean(at)
    at.slider(key="site_n").set_value(3).run()
    assert_clean(at)
    assert len(at.dataframe[0].value) == 3
    at.number_input(key="site_spacing").set_value(100.0).run()
    assert_clean(at)
    assert "≥ 100 km apart" in texts(at)


def test_compare_two_models_and_two_dates():
    at = make_app(page="compare")
    at.run()
    assert_clean(at)
    assert "Difference B − A" in _subheaders(at)
    at.selectbox(key="cmp_model").set_value("knn").run()
    assert_clean(at)
    scores = at.dataframe[0].value
    assert len(scores) == 2 and scores["what"].str.contains("knn").any()
    assert "not its skill" in texts(at)  # nothing hidden: the page says the score is a fit
    at.radio(key="cmp_mode").set_value("two dates").run()
    assert_clean(at)
    assert "B: idw, 2019-01-04" in texts(at)


def test_compare_scores_hidden_stations_when_some_are_masked():
    from dashboard import loaders

    ds = loaders.load_dataset("demo")
    hidden = ",".join(ds["station"].values.astype(str)[:5])
    at = make_app(page="compare", masked=hidden)
    at.run()
    assert_clean(at)
    assert "a fair test" in texts(at)


def test_day_player_slider_and_play_toggle():
    at = make_app()
    at.run()
    assert_clean(at)
    assert not any("(hour 1 of 24)" in c.value for c in at.caption)  # closed: the player is not built
    at.session_state["hot_player_open"] = True  # what opening the expander does
    at.run()
    assert_clean(at)
    assert any("(hour 1 of 24)" in c.value for c in at.caption)
    at.slider(key="anim_hour").set_value(7).run()
    assert_clean(at)
    assert any("07:00 (hour 8 of 24)" in c.value for c in at.caption)
    at.toggle(key="anim_play").set_value(True).run()
    assert_clean(at)  # playing: each run advances one hour
    assert any("(hour 9 of 24)" in c.value for c in at.caption)


def test_hourly_images_one_png_per_hour():
    import numpy as np

    from dashboard.animation import hourly_images

    imgs = hourly_images(np.random.default_rng(0).uniform(0, 300, (24, 5, 6)), np.linspace(39, 40, 5))
    assert len(imgs) == 24 and all(i.startswith("data:image/png;base64,") for i in imgs)
    assert len(set(imgs)) == 24


def test_exceedance_page_counts_days_over_the_period():
    at = make_app(page="exceedance")
    at.run()
    assert_clean(at)
    assert "2019-01-01 … 2019-01-05 (5 days)" in texts(at)  # the demo's month is its 5 days
    table = at.dataframe[0].value
    assert len(table) == 2 and "people × days above" in table
    at.radio(key="exc_period").set_value("days ending on the chosen date").run()
    at.slider(key="exc_days").set_value(3).run()
    assert_clean(at)
    assert "(3 days)" in texts(at)


def test_hotspot_downloads_are_prepared_on_request():
    at = make_app()
    at.run()
    assert "hot_files" not in at.session_state
    at.button(key="hot_prepare").click().run()
    assert_clean(at)
    files = at.session_state["hot_files"][1]
    assert files["png"][:4] == b"\x89PNG" and files["pdf"][:4] == b"%PDF"
    assert files["tif"][:2] in (b"II", b"MM") and files["nc"][:4] == b"\x89HDF"


def test_place_search_zooms_and_explains_misses():
    at = make_app()
    at.run()
    at.text_input(key="hot_search").input("39.9, 116.4").run()
    assert_clean(at)
    assert at.session_state["hot_focus"] == (39.9, 116.4)
    at.text_input(key="hot_search").input("116.4, 39.9").run()
    assert "lat first" in " ".join(w.value for w in at.warning)
