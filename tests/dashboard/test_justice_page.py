"""The "Environmental justice" page under AppTest, run through the real frame (dashboard/app.py)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, assert_clean, serving_data

PAGE = "views/justice.py"


def _justice(query: dict[str, str]) -> AppTest:
    """The app on the justice page with ``query`` in the URL, like a browser at /justice?….

    The first run opens the light About page (a ``page=`` link switches before anything heavy renders);
    then the URL gets ``query`` and the justice page is opened, as the browser's /justice path would.
    """
    at = AppTest.from_file(APP, default_timeout=240)
    for k, v in {"page": "about", **{k: v for k, v in query.items() if not k.startswith("ej_")}}.items():
        at.query_params[k] = v
    at.run()
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(PAGE)
    at.run()
    return at


def _text(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption])


@pytest.mark.realdata
def test_page_renders_demo_scenario(shared_data, monkeypatch):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    at = _justice({"dataset": "demo"})
    assert_clean(at)
    assert len(at.metric) == 4
    text = _text(at)
    assert "NBS 2020 census" in text and "GHSL" in text  # sources cited where the numbers are
    assert "222 census units" in text and "110.4 M people" in text
    assert any("synthetic" in w.value for w in at.warning)  # demo is flagged
    ranked = [df for df in at.dataframe if len(df.value) == 222]
    assert ranked, "ranked table of all 222 units is shown"
    assert len(at.get("download_button")) == 3
    # province borders drawn over the choropleth (its caption credits them); district outlines are not
    import json

    ids = [lyr.get("id") for chart in at.get("deck_gl_json_chart") for lyr in json.loads(chart.proto.json)["layers"]]
    assert "provinces" in ids and "outlines" not in ids, ids
    # choosing another indicator reruns cleanly and updates the shareable link
    at.selectbox(key="ej_ind").set_value("illiteracy").run()
    assert not at.exception and not at.error
    assert at.query_params["ej_indicator"] == ["illiteracy"] or at.query_params["ej_indicator"] == "illiteracy"


@pytest.mark.realdata
@pytest.mark.parametrize(("query", "ind", "per", "warning"), [
    ({"ej_indicator": "rural", "ej_period": "day"}, "rural", "day", None),
    ({"ej_indicator": "income", "ej_period": "decade"}, "age65p", "week", "unknown"),
])
def test_link_sets_indicator_and_period(shared_data, monkeypatch, query, ind, per, warning):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    at = _justice({"dataset": "demo", **query})
    assert not at.exception
    assert at.selectbox(key="ej_ind").value == ind
    assert at.radio(key="ej_per").value == per
    if warning:
        msgs = " ".join(w.value for w in at.warning)
        assert "Indicator 'income' in the link is unknown" in msgs and "Period 'decade'" in msgs


def test_missing_geo_layers_give_a_clear_message(tmp_path, monkeypatch):
    (tmp_path / "raw").mkdir()  # a data dir without geo/: only the synthetic demo is available
    with serving_data(tmp_path, monkeypatch):
        at = _justice({})
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "Exposure analysis" in errors and "not found" in errors
