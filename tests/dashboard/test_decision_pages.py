"""AppTest of the decision controls (hotspot modes, prominence, uncertainty views, siting, compare) on the demo."""

from __future__ import annotations

import pytest
import streamlit as st

from tests.dashboard.test_pages import assert_clean, make_app, texts


@pytest.fixture(scope="module", autouse=True)
def _fresh_streamlit_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


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


@pytest.mark.parametrize("view", ["interval width", "how sure"])
def test_uncertainty_view_says_what_it_shows(view):
    at = make_app()
    at.run()
    at.radio(key="hot_view").set_value(view).run()
    assert_clean(at)
    shown = texts(at) + " ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info)
    # with an interval: the width legend or the hatch note; without: a message saying the map shows the estimate
    assert ("90 % interval" in shown) or ("gives no 90 % interval" in shown)
