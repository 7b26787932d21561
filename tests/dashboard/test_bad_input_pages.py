"""Bad input on the decision pages: every station hidden gives a clear message, never a traceback."""

from __future__ import annotations

import pytest

from tests.dashboard.test_pages import make_app

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


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
