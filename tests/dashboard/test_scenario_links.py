"""Every link the dashboard shows restores its scenario: root form (/?…&page=…) and path form alike,
with the page's own keys (justice: ej_*, hotspots: threshold and the picked place).

Also: a pick never outlives the scenario it was made in (no stale "hotspot 1", no snapped point).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlparse

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.state import K_PLACE, Place
from tests.dashboard.conftest import APP, make_app

WHO = "WHO 2021 AQG, 24-h (15 µg/m³)"


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def _root(query: dict[str, str]) -> AppTest:
    """The real frame opened at the root path with ``query`` (what a pasted /?… link does)."""
    at = AppTest.from_file(APP, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _place_options(at: AppTest) -> list[str]:
    (box,) = [s for s in at.selectbox if s.label == "Place (or click the map)"]
    return list(box.options)


def _place_value(at: AppTest) -> str:
    (box,) = [s for s in at.selectbox if s.label == "Place (or click the map)"]
    return box.value


@pytest.mark.realdata
def test_root_form_justice_link_restores_indicator_and_period_and_its_shown_link_too(shared_data, monkeypatch):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    at = _root({"dataset": "demo", "model": "idw", "date": "2019-01-04", "page": "justice",
                "ej_indicator": "no_tap_water", "ej_period": "day"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="ej_ind").value == "no_tap_water"  # was "Share aged 65+" (the default)
    assert at.radio(key="ej_per").value == "day"  # was "week"
    assert str(at.sidebar.date_input(key="sb_date").value) == "2019-01-04"
    # The link the page shows (and embeds in the HTML brief) opens the same scenario in a new session.
    (cap,) = [c.value for c in at.caption if "Scenario link" in c.value]
    link = re.search(r"`([^`]+)`", cap).group(1)
    assert urlparse(link).path in ("", "/")  # the root form: the case that used to fail
    again = _root(dict(parse_qsl(urlparse(link).query)))
    assert not again.exception
    assert again.selectbox(key="ej_ind").value == "no_tap_water" and again.radio(key="ej_per").value == "day"
    assert str(again.sidebar.date_input(key="sb_date").value) == "2019-01-04"
    assert again.sidebar.selectbox(key="sb_model").value == "idw"


def test_root_form_link_to_hotspots_restores_threshold_and_station_place() -> None:
    at = _root({"dataset": "demo", "model": "idw", "threshold": "15", "place": "station:1002A"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="hot_threshold").value == WHO
    assert "(北京 Beijing, 1002A)" in _place_value(at)
    assert at.query_params["threshold"] == "15" and at.query_params["place"] == "station:1002A"


@pytest.mark.parametrize(("place", "want"), [("hotspot:1", r"^hotspot 1 \("),
                                            ("point:39.500,116.500", r"39\.50°N 116\.50°E")])
def test_hotspot_and_point_places_restore_from_the_link(place: str, want: str) -> None:
    at = make_app(threshold="15", place=place)
    at.run()
    assert not at.exception
    assert re.search(want, _place_value(at)), _place_value(at)
    assert at.query_params["place"] == place


@pytest.mark.parametrize(("query", "message"), [({"threshold": "lots"}, "Threshold 'lots' in the link"),
                                                ({"place": "nowhere"}, "Place 'nowhere' in the link"),
                                                ({"page": "nosuchpage"}, "names a page 'nosuchpage'")])
def test_bad_page_keys_in_a_link_are_said(query: dict, message: str) -> None:
    at = _root({"dataset": "demo", "model": "idw", **query})
    assert not at.exception
    assert any(message in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_custom_threshold_in_the_link_is_restored() -> None:
    at = _root({"dataset": "demo", "model": "idw", "threshold": "42"})
    assert not at.exception
    assert at.selectbox(key="hot_threshold").value == "custom" and at.number_input(key="hot_custom").value == 42
    assert any("above 42 µg/m³" in s.value for s in at.subheader)


def test_changing_the_threshold_drops_the_stale_hotspot_pick() -> None:
    at = make_app(threshold="15")
    at.run()
    hot = [o for o in _place_options(at) if o.startswith("hotspot ")]
    assert hot, "the WHO threshold yields hotspots on the demo day"
    (box,) = [s for s in at.selectbox if s.label == "Place (or click the map)"]
    box.set_value(hot[0]).run()
    assert _place_value(at) == hot[0]
    at.selectbox(key="hot_threshold").set_value("GB 3095-2012 Grade II, 24-h (75 µg/m³)").run()
    assert not at.exception
    opts = _place_options(at)
    ones = [o for o in opts if o.startswith("hotspot 1 ")]
    assert len(ones) <= 1, ones  # was: the stale "hotspot 1" of the old threshold and the new one
    assert hot[0] not in opts  # the WHO-threshold area is not a hotspot of the GB threshold
    assert any("does not belong to this scenario" in c.value for c in at.caption)
    assert len(opts) == len(set(opts))


def test_a_point_picked_on_another_dataset_does_not_snap_to_this_grid() -> None:
    at = make_app()
    at.session_state[K_PLACE] = Place("point", lat=40.2, lon=116.3, label="40.20°N 116.30°E",
                                      scope=("uci_beijing_multisite",))
    at.run()
    assert not at.exception
    assert "40.20°N 116.30°E" not in _place_options(at)
    assert any("does not belong to this scenario" in c.value for c in at.caption)
