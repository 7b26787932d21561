"""Pages say what the data behind a map really is: partial days, hours without data, stations far away,
stations with wrong coordinates, what a model's influence weights are, when there is wind to draw.

Real data (cnemc_bth_2019): 2019-08-23 has PM2.5 at 08:00 only; 3132A is listed in Qinhuangdao but sits
in Shandong.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dashboard import layers
from tests.dashboard.conftest import goto, make_app, texts

REAL = "cnemc_bth_2019"
PARTIAL = "2019-08-23"


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.fixture
def real(shared_data, monkeypatch):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    monkeypatch.delenv("AIRATLAS_CACHE", raising=False)  # the user's parsed-data cache: no 20 s re-parse

    def app(page: str = "hotspots", **query):
        return make_app(page, dataset=REAL, **query)

    return app


@pytest.mark.realdata
def test_an_hour_without_data_is_refused_with_a_clear_message(real) -> None:
    at = real(date=PARTIAL, hour="12")
    at.run()
    assert not at.exception and not at.error
    msg = " ".join(w.value for w in at.warning)
    assert "No station reported PM2.5 at 12:00 on 2019-08-23" in msg and "08:00 only" in msg
    assert not at.get("deck_gl_json_chart")  # no surface drawn from nothing
    hours = at.sidebar.selectbox(key="sb_hour").options
    assert hours[1 + 12] == "12:00 — no data" and hours[1 + 8] == "08:00"


@pytest.mark.realdata
def test_a_partial_day_says_how_many_reported_and_is_marked_in_the_date_picker(real) -> None:
    at = real(date=PARTIAL, hour="mean")
    at.run()
    assert not at.exception and not at.error
    text = texts(at)
    assert "observed stations reported on 2019-08-23 (data in 1 of 24 hours: 08:00)" in text
    assert "345 stations observed, 0 hidden" not in text
    assert any("Partial day" in w.value for w in at.warning)
    marks = " ".join(c.value for c in at.sidebar.caption)
    assert "2019-08-23: partial day" in marks and "23 (1 h)" in marks
    at.sidebar.selectbox(key="sb_hour").set_value(8).run()
    assert re.search(r"\d+ of \d+ observed stations reported at 08:00", texts(at))


@pytest.mark.realdata
def test_the_masking_lab_warns_when_scoring_a_partial_day(real) -> None:
    at = real("masking_lab", date=PARTIAL, masked="1001A,1002A,1003A")
    at.run()
    assert not at.exception
    assert any("Partial day" in w.value and "1 of 24 hours" in w.value for w in at.warning)


@pytest.mark.realdata
def test_hiding_every_bth_station_warns_that_the_surface_is_extrapolated(real) -> None:
    from dashboard import loaders

    at = real()
    at.run()
    far_before = [w.value for w in at.warning if "km from any reporting station" in w.value]
    ds = loaders.load_dataset(REAL)
    bth = ",".join(ds["station"].values[ds["is_bth"].values].astype(str))
    at2 = real(masked=bth)
    at2.run()
    assert not at2.exception and not at2.error
    (far,) = [w.value for w in at2.warning if "km from any reporting station" in w.value]
    assert "more than 50 km" in far and "extrapolation" in far
    assert not far_before  # with every station in, the note is a caption, not an alarm


@pytest.mark.realdata
def test_station_with_coordinates_outside_its_city_is_not_bth_in_the_dashboard(real) -> None:
    from dashboard import loaders, masking

    ds = loaders.load_dataset(REAL)
    assert "3132A" not in masking.pool(ds)
    info = loaders.dataset_info(REAL)
    assert info["n_coord_mismatch"] == 1 and info["n_bth"] == int(ds["is_bth"].sum()) - 1
    assert info["cities"][:2] == ["北京", "天津"]  # BTH cities first in By-city
    at = real("masking_lab")
    at.run()
    opts = at.selectbox(key="lab_iso_station").options
    assert "文明里 Wenmingli (秦皇岛 Qinhuangdao, 3132A)" in opts and not any("启用" in o for o in opts)


@pytest.mark.realdata
def test_no_wind_control_without_wind_to_draw(real) -> None:
    at = real(date="2019-01-12")
    at.run()
    assert not at.exception
    assert not [c for c in at.checkbox if c.key == "hot_wind"]
    assert "wind: not available" in texts(at) or "no arrows exported" in texts(at)


def test_measured_wind_arrows_are_scaled_to_the_map() -> None:
    at = make_app()  # the demo has measured 10-m wind
    at.run()
    assert [c for c in at.checkbox if c.key == "hot_wind"]
    assert "longest =" in texts(at)
    bbox = (116.0, 39.6, 116.8, 40.3)  # a city-sized map (UCI Beijing)
    speeds = np.array([1.0, 2.5])
    k = layers.arrow_scale(bbox, speeds)
    arrows = layers.wind_arrows([40.0, 40.0], [116.4, 116.5], [2.5, 1.0], [0.0, 0.0], deg_per_ms=k, max_len_deg=k * 2.5)
    shaft = arrows["path"].iloc[0][1][0] - arrows["path"].iloc[0][0][0]
    assert shaft * np.cos(np.radians(40)) == pytest.approx(0.07 * 0.8, rel=1e-6)  # 7 % of the map width


def test_knn_influence_is_not_drawn_as_a_diffusion_advection_split() -> None:
    at = make_app("attention")
    at.run()
    if not [s for s in at.selectbox if s.key == "att_inf_model"] or "aqnet" not in \
            at.selectbox(key="att_inf_model").options:
        pytest.skip("no trained aqnet checkpoint in this checkout")
    at.selectbox(key="att_inf_model").set_value("aqnet").run()
    assert not at.exception and not at.error
    text = texts(at)
    assert "no diffusion/advection split" in text
    assert "Diffusion 100 %" not in text and "advection 0 %" not in text
    bars = [json.loads(p.proto.spec) for p in at.get("plotly_chart") if "Shares in" in p.proto.spec]
    assert bars and {t["name"] for t in bars[0]["data"]} == {"knn weight"}


def test_progress_stays_visible_the_toolbar_is_not_minimal() -> None:
    import tomllib

    from core.paths import REPO_ROOT

    cfg = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg.get("client", {}).get("toolbarMode") != "minimal"  # "minimal" hides the running indicator
    at = make_app()
    at.run()
    goto(at, "masking_lab")
    assert not at.exception


def _plotly_array(value) -> np.ndarray:
    """A figure spec's array: a plain list, or plotly's typed array (``dtype``, base64 ``bdata``, ``shape``)."""
    if not isinstance(value, dict):
        return np.asarray(value, dtype=float)
    import base64

    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)
    shape = value.get("shape")
    return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat


def test_attention_heatmap_leaves_days_before_the_data_blank_and_says_so() -> None:
    """The demo begins on its first day: a prediction in its first two weeks has history days without data. The
    heatmap leaves them blank and the caption counts them, instead of showing weights the model put on padding."""
    at = make_app("attention")
    at.run()
    assert not at.exception and not at.error
    heat = [json.loads(p.proto.spec) for p in at.get("plotly_chart") if "history day" in p.proto.spec]
    if not heat:
        pytest.skip("no trained aqnet checkpoint in this checkout")
    z = _plotly_array(heat[0]["data"][0]["z"])
    blank = int(np.isnan(z).sum())
    caption = [t for t in texts(at).split("\n") if "Blank cells" in t]
    assert blank > 0 and caption and f"Blank cells ({blank})" in caption[0]
    assert np.isfinite(z).any()
