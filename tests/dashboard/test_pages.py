"""Every dashboard page through streamlit.testing.v1.AppTest, on the offline demo (synthetic) scenario.

Pages render without exception or error, widgets change what is shown, masking changes the scores,
a URL query restores a scenario, and bad input gives a message instead of a traceback.

Pages (dashboard/views/) are driven through :func:`tests.dashboard.conftest.make_app`, which runs
the same frame as dashboard/app.py (:func:`dashboard.sidebar.frame`) and then the page file.
The real frame is tested with ``AppTest.from_file("dashboard/app.py")`` on its default page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, APPTEST_TIMEOUT, assert_clean, goto, make_app, serving_data, texts

PAGES = ["hotspots", "masking_lab", "robustness", "attention", "about"]


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def test_app_frame_opens_on_hotspots_with_navigation() -> None:
    at = AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT)
    at.query_params["dataset"] = "demo"
    at.run()
    assert_clean(at)
    assert [h.value for h in at.header] == ["PM2.5 hotspots"]
    assert at.sidebar.selectbox(key="sb_dataset").value == "demo"
    assert at.query_params["page"] == "hotspots" and at.query_params["dataset"] == "demo"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_demo(page: str) -> None:
    at = make_app(page)
    at.run()
    assert_clean(at)
    assert any("Demo scenario" in i.value for i in at.info) or page == "about"
    assert at.sidebar.selectbox(key="sb_dataset").value == "demo"
    assert at.query_params["page"] == page


def test_hotspots_widgets_change_the_view() -> None:
    at = make_app()
    at.run()
    assert_clean(at)
    assert "**idw** · 2019-01-05 daily mean" in texts(at)
    gb_area = at.dataframe[0].value["area (km²)"].sum() if at.dataframe else 0
    at.selectbox(key="hot_threshold").set_value("WHO 2021 AQG, 24-h (15 µg/m³)").run()
    assert_clean(at)
    assert len(at.dataframe[0].value) >= 1 and "above 15 µg/m³" in " ".join(s.value for s in at.subheader)
    # every place above 75 µg/m³ is above 15 and the demo day is not above 75 everywhere: more area is listed
    assert at.dataframe[0].value["area (km²)"].sum() > gb_area
    at.sidebar.selectbox(key="sb_hour").set_value(6).run()
    assert_clean(at)
    assert "2019-01-05 06:00" in texts(at)
    assert at.query_params["hour"] == "6"
    at.sidebar.selectbox(key="sb_model").set_value("knn").run()
    assert_clean(at)
    assert "**knn** · 2019-01-05 06:00" in texts(at)


def test_masking_changes_the_outputs_and_rerun_applies_it() -> None:
    at = make_app("masking_lab")
    at.run()
    assert_clean(at)
    assert "No station is hidden yet" in texts(at)
    at.slider(key="lab_share").set_value(50)
    at.button(key="lab_hide_random").click().run()
    assert "press **Rerun**" in texts(at)
    assert at.session_state["masked"] == ()
    at.button(key="lab_rerun").click().run()
    assert_clean(at)
    hidden = at.session_state["masked"]
    assert len(hidden) > 10
    scores = at.dataframe[0].value
    assert set(scores["model"]) >= {"idw", "knn"}
    assert (scores["pairs (hour×station)"] > 0).all()
    assert scores["pairs (hour×station)"].nunique() == 1  # same stations and hours for every model
    mae_50 = float(scores.set_index("model").loc["idw", "MAE (µg/m³)"])
    assert at.query_params["masked"] == ",".join(hidden)

    # Another seed hides other stations: the scores change.
    at.number_input(key="lab_seed").set_value(3)
    at.button(key="lab_hide_random").click().run()
    at.button(key="lab_rerun").click().run()
    assert_clean(at)
    assert at.session_state["masked"] != hidden
    assert float(at.dataframe[0].value.set_index("model").loc["idw", "MAE (µg/m³)"]) != mae_50

    # The hotspot page now draws the hidden stations hollow and says how many are hidden.
    goto(at, "hotspots")
    assert_clean(at)
    assert f"{len(at.session_state['masked'])} hidden" in texts(at)


def test_isolate_and_city_masking() -> None:
    at = make_app("masking_lab")
    at.run()
    at.selectbox(key="lab_iso_station").set_value("1001A")
    at.slider(key="lab_iso_radius").set_value(20)
    at.button(key="lab_hide_iso").click().run()
    pending = at.session_state["mask_pending"]
    assert "1001A" in pending and 3 <= len(pending) <= 20  # central Beijing is dense
    at.multiselect(key="lab_cities").set_value(["天津"]).run()
    at.button(key="lab_hide_city").click().run()
    assert len(at.session_state["mask_pending"]) > len(pending)
    at.button(key="lab_clear").click().run()
    assert at.session_state["mask_pending"] == []


def test_query_string_restores_a_scenario() -> None:
    at = make_app(date="2019-01-04", hour="5", model="knn", masked="1001A,1002A,1003A")
    at.run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="sb_model").value == "knn"
    assert str(at.sidebar.date_input(key="sb_date").value) == "2019-01-04"
    assert at.sidebar.selectbox(key="sb_hour").value == 5
    assert at.session_state["masked"] == ("1001A", "1002A", "1003A")
    assert re.search(r"\*\*knn\*\* · 2019-01-04 05:00 · \d+ of 153 observed stations reported at 05:00 · 3 hidden",
                     texts(at))


def test_query_string_opens_the_page_it_names() -> None:
    at = AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT)
    at.query_params.update({"dataset": "demo", "page": "masking_lab", "masked": "1001A,1002A"})
    at.run()
    assert not at.exception
    assert any(h.value == "Masking lab" for h in at.header)
    assert at.dataframe and set(at.dataframe[0].value["model"]) >= {"idw"}  # applied mask → scores right away


@pytest.mark.parametrize(("query", "message"), [
    ({"date": "2030-01-01"}, "outside the data"),
    ({"date": "yesterday"}, "is not a date"),
    ({"model": "nosuchmodel"}, "is not available"),
    ({"hour": "31"}, "not 0–23"),
    ({"masked": "ZZZ9"}, "were ignored"),
])
def test_bad_link_values_give_a_warning_not_a_traceback(query: dict, message: str) -> None:
    at = make_app(**query)
    at.run()
    assert not at.exception
    assert any(message in w.value for w in at.warning), [w.value for w in at.warning]


def test_all_stations_hidden_gives_a_clear_error(tmp_path: Path) -> None:
    at = make_app()
    at.run()
    from dashboard import loaders  # the demo is cached by the first run

    codes = ",".join(loaders.load_dataset("demo")["station"].values.astype(str))
    at2 = make_app(masked=codes)
    at2.run()
    assert not at2.exception
    assert any("Every station is hidden" in e.value for e in at2.error)
    goto(at2, "masking_lab")
    assert not at2.exception
    assert any("Every station is hidden" in e.value for e in at2.error)


def test_robustness_live_run_draws_a_curve() -> None:
    at = make_app("robustness")
    at.run()
    at.multiselect(key="rob_shares").set_value([20, 60])
    at.number_input(key="rob_seeds").set_value(1)
    at.button(key="rob_run").click().run()
    assert_clean(at)
    table = at.dataframe[-1].value
    assert len(table) == 2 and table.notna().all().all()


def test_sessions_are_independent_and_the_cached_model_is_untouched() -> None:
    a, b = make_app(masked="1001A"), make_app(model="knn")
    a.run()
    b.run()
    assert a.session_state["masked"] == ("1001A",) and b.session_state["masked"] == ()
    assert a.sidebar.selectbox(key="sb_model").value == "idw" and b.sidebar.selectbox(key="sb_model").value == "knn"
    from dashboard import loaders

    m = loaders.load_model("idw")
    before = dict(vars(m))
    goto(a, "masking_lab")
    assert vars(loaders.load_model("idw")) == before and loaders.load_model("idw") is m


def test_without_any_data_it_opens_the_demo_with_fetch_instructions(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # an empty data folder (no raw/, no geo/); the caches are emptied after it, so later tests see the real data
    with serving_data(tmp_path, monkeypatch):
        at = AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT)
        at.query_params["dataset"] = "cnemc_bth_2019"  # a link from a machine with data
        at.run()
        assert not at.exception
        assert at.sidebar.selectbox(key="sb_dataset").value == "demo"
        assert at.sidebar.selectbox(key="sb_dataset").options == ["demo (synthetic simulator)"]
        assert any("python -m core data fetch" in i.value for i in at.info)
        assert any("'cnemc_bth_2019' is not available here" in w.value for w in at.warning)
        assert any("Geographic layers not found" in w.value for w in at.warning)
