"""Speed-related behaviour of the dashboard that must stay correct: shared period results, one map key
across scenarios, stale map selections dropped (no timings here: those are in the browser test)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import assert_clean, make_app, texts

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def test_exceedance_opens_again_in_a_second_session():
    """The period result is shared; a second session must not replay the first one's progress bar."""
    first = make_app(page="exceedance")
    first.run()
    assert_clean(first)
    second = make_app(page="exceedance")
    second.run()
    assert_clean(second)
    assert second.dataframe[0].value.equals(first.dataframe[0].value)
    assert "(5 days)" in texts(second)


def test_hotspot_map_keeps_one_key_across_hours_and_dates():
    at = make_app()
    at.run()
    assert_clean(at)
    at.selectbox(key="sb_hour").set_value(3).run()
    assert_clean(at)
    at.date_input(key="sb_date").set_value(at.date_input(key="sb_date").value.replace(day=4)).run()
    assert_clean(at)
    keys = [k for k in at.session_state.keys() if str(k).startswith("hot_map")]
    assert "hot_map" in keys and not [k for k in keys if k not in ("hot_map", "hot_map_scope")], keys


SCOPE_SCRIPT = """
import streamlit as st
from dashboard.ui import selection_in_scope
st.session_state["out"] = selection_in_scope(st.session_state["objs"], st.session_state["scope"], "sel_scope")
"""


def test_a_selection_made_under_another_scope_is_dropped():
    at = AppTest.from_string(SCOPE_SCRIPT)
    picked = {"stations": [{"code": "1001A"}]}
    at.session_state["objs"], at.session_state["scope"] = picked, ("2019-01-05", 3)
    at.run()
    assert at.session_state["out"] == picked  # new selection: belongs to the scope it was made in
    at.session_state["scope"] = ("2019-01-05", 4)
    at.run()
    assert at.session_state["out"] == {}  # same selection, hour changed: stale
    at.session_state["objs"] = {"stations": [{"code": "1002A"}]}
    at.run()
    assert at.session_state["out"] == {"stations": [{"code": "1002A"}]}  # a new click under the new scope
