"""Bad input on every page that takes a date: no station left, a missing day (archive gap) and a one-hour day give
a clear message naming the problem, never a traceback and never a map computed from nothing.

The missing and one-hour days come from a tiny CNEMC folder (tests/data/make_data.py): 2019-01-01 … 05, no file
for 01-03, PM2.5 at 08:00 only on 01-04; the real geo layers are linked in (population, census units, districts).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.dashboard.conftest import link_shared_geo, make_app, serving_data
from tests.data.make_data import make_cnemc_folder

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")

DATE_PAGES = ["hotspots", "masking_lab", "compare", "siting", "exceedance", "justice", "attention"]
GAPPY = "cnemc_bth_2019"
MISSING, ONE_HOUR, THE_HOUR = "2019-01-03", "2019-01-04", 8


@pytest.fixture(scope="module")
def every_station() -> str:
    from dashboard import loaders

    make_app().run()  # builds the demo the pages use
    return ",".join(loaders.load_dataset("demo")["station"].values.astype(str))


@pytest.mark.parametrize("page", ["compare", "siting", "exceedance"])
def test_no_station_left_gives_a_clear_message(page: str, every_station: str) -> None:
    at = make_app(page=page, masked=every_station)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in (*at.error, *at.warning, *at.info))
    assert "hidden" in shown.lower() and "unexpectedly" not in shown, shown


@pytest.fixture(scope="module")
def gappy(tmp_path_factory: pytest.TempPathFactory):
    """A data folder whose only dataset has a missing day and a one-hour day."""
    root = tmp_path_factory.mktemp("gappy")
    link_shared_geo(root)
    make_cnemc_folder(root / "raw" / GAPPY, start="2019-01-01", n_days=5, missing_day=2, partial_day=(3, (THE_HOUR,)))
    with pytest.MonkeyPatch.context() as mp, serving_data(root, mp):
        yield root


def _run(page: str, date: str, **query: str):
    at = make_app(page=page, dataset=GAPPY, date=date, **query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["sb_date"].isoformat() == date  # the page really is on that day
    return at


def _said(at) -> str:
    """What the page body says (alerts and captions; the sidebar's date note does not count)."""
    main = at.main
    return " ".join(str(m.value) for m in (*main.error, *main.warning, *main.info, *main.caption))


def _no_bug(at) -> None:
    text = _said(at)
    assert "unexpectedly" not in text and "unmask" not in text.lower(), text  # nothing is hidden here


@pytest.mark.parametrize("day, phrase", [(MISSING, "archive gap"), (ONE_HOUR, "1 of 24 hours")],
                         ids=["missing day", "one-hour day"])
@pytest.mark.parametrize("page", DATE_PAGES)
def test_a_short_day_says_so_on_every_page(gappy, page: str, day: str, phrase: str) -> None:
    at = _run(page, day)
    _no_bug(at)
    text = _said(at)
    assert day in text and phrase in text, text
    if day == MISSING and page not in ("exceedance", "justice"):  # one day, and no data: nothing may be drawn
        assert not at.get("deck_gl_json_chart"), page


@pytest.mark.parametrize("page", ["exceedance", "justice"])
def test_a_period_without_a_valid_day_is_refused(gappy, page: str) -> None:
    """The period pages: a period whose days are missing or too short gives a message, not maps of zero days."""
    if page == "exceedance":  # 01-03 … 01-04: the missing day and the one-hour day
        at = _run(page, ONE_HOUR)
        at.radio(key="exc_period").set_value("days ending on the chosen date").run()
        at.slider(key="exc_days").set_value(2).run()
        expected = f"No day in {MISSING} … {ONE_HOUR} has a valid 24-h mean"
    else:  # the missing day alone
        at = _run(page, MISSING, ej_period="day")
        expected = f"No PM2.5 data on {MISSING}"
    assert not at.exception, [e.value for e in at.exception]
    _no_bug(at)
    assert expected in _said(at), _said(at)
    assert not at.get("deck_gl_json_chart")


@pytest.mark.parametrize("page", ["hotspots", "compare"])
def test_an_hour_without_data_on_a_one_hour_day_draws_no_map(gappy, page: str) -> None:
    at = _run(page, ONE_HOUR, hour="12")
    text = _said(at)
    assert f"No station reported PM2.5 at 12:00 on {ONE_HOUR}" in text and "08:00 only" in text, text
    assert not at.get("deck_gl_json_chart")
    at.sidebar.selectbox(key="sb_hour").set_value(THE_HOUR).run()  # the hour with data works
    assert not at.exception and at.get("deck_gl_json_chart")


def test_a_one_hour_day_is_not_a_valid_day_in_the_exposure_figures(gappy) -> None:
    at = make_app(page="justice", dataset=GAPPY, date=ONE_HOUR)
    at.query_params["ej_period"] = "day"
    at.run()
    assert not at.exception
    text = _said(at)
    assert f"No day in {ONE_HOUR} has the ≥ 20 hours" in text and "1 of 24 hours" in text, text
    assert not at.get("deck_gl_json_chart")


def test_exceedance_counts_only_days_with_twenty_measured_hours(gappy) -> None:
    """A model that fills a partial day's empty hours (spin does) must not turn a one-hour day into a counted day."""
    from dashboard import loaders

    model = "spin" if "spin" in loaders.model_names() else "idw"
    res = loaders.run_scenario(GAPPY, ONE_HOUR, model, (), True)
    filled = int(np.isfinite(res.grid["pm25"].values).reshape(24, -1).all(axis=1).sum())
    exc, _, _, skipped = loaders.period_exceedance(GAPPY, "2019-01-05", 5, model, ())
    assert skipped == [MISSING]
    assert int(exc["valid_days"].max()) == 3  # 01-01, 01-02, 01-05; 01-04 has 1 measured hour
    if model == "spin":
        assert filled == 24  # the case this guards: a surface in every hour of the one-hour day


def test_exposure_leaves_out_the_short_days_even_when_the_model_fills_them(gappy) -> None:
    """spin estimates every hour of the archive gap and of the one-hour day; neither may count as a day."""
    from dashboard import loaders

    if "spin" not in loaders.model_names():
        pytest.skip("no spin model in this checkout")
    at = _run("justice", ONE_HOUR, model="spin")  # the default period: 7 days ending 01-04, clipped to 01-01
    said = " ".join(w.value for w in at.main.warning)
    assert "2 day(s) have fewer than 20 valid hours" in said, said
    assert f"{MISSING} (no data, archive gap)" in _said(at) and f"{ONE_HOUR} (1 of 24 hours)" in _said(at)
