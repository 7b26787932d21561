"""dashboard.hotspot_scene: what the Hotspots page shows, computed without any widget (demo data, idw)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidRequest
from core.hotspots import Threshold
from dashboard import loaders
from dashboard.hotspot_scene import NothingToShow, check_reporting, compute
from dashboard.state import Scenario

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.fixture
def demo() -> tuple[dict, str]:
    info = loaders.dataset_info(loaders.DEMO)
    return info, info["days_with_data"][len(info["days_with_data"]) // 2]


@pytest.mark.parametrize("hour", [None, 8])
@pytest.mark.parametrize("rule", [Threshold("absolute", 35.0), Threshold("relative", 20.0)])
def test_scene_holds_the_shown_field_its_stations_and_hotspots_above_the_threshold(demo, hour, rule):
    info, date = demo
    scene = compute(Scenario(loaders.DEMO, date, hour, "idw"), info, rule, prominence=10.0)
    assert scene.field.shape == (len(scene.lat), len(scene.lon))
    grid = scene.result.grid["pm25"]
    want = grid.isel(time=scene.hours_with_data).mean("time") if hour is None else grid.isel(time=hour)
    inside = np.isfinite(scene.field)
    assert inside.any() and np.allclose(scene.field[inside], want.values[inside])  # NaN only outside districts
    assert len(scene.stations) == scene.sl.sizes["station"] and scene.obs_mask.all()
    if len(scene.table):
        assert (scene.table["peak"] >= scene.threshold).all()
    if rule.mode == "relative":  # the day's regional median plus the margin
        assert scene.threshold == pytest.approx(np.nanmedian(scene.field) + rule.value, rel=1e-6)
    assert (scene.wind is not None) == (info["wind"] == "measured") and scene.wind_note.startswith("wind:")


def test_hiding_every_station_is_a_clear_error(demo):
    info, date = demo
    everyone = tuple(loaders.window_slice(loaders.DEMO, date)["station"].values.astype(str))
    with pytest.raises(InvalidRequest, match="Every station is hidden"):
        compute(Scenario(loaders.DEMO, date, 8, "idw", everyone), info, Threshold("absolute", 35.0), 10.0)


def test_when_only_hidden_stations_reported_the_scene_says_to_unhide_some():
    reporting = np.zeros((24, 3), bool)
    reporting[8, 0] = True
    observed = np.array([False, True, True])
    with pytest.raises(NothingToShow, match="only stations that did are hidden"):
        check_reporting(Scenario("x", "2019-01-01", 8, "idw"), reporting, observed, np.array([8]))


def test_an_hour_nobody_reported_is_refused_with_the_hours_that_have_data():
    reporting = np.zeros((24, 3), bool)
    reporting[8] = True
    with pytest.raises(NothingToShow, match="No station reported PM2.5 at 12:00.*08:00"):
        check_reporting(Scenario("x", "2019-01-01", 12, "idw"), reporting, np.ones(3, bool), np.array([8]))
    assert check_reporting(Scenario("x", "2019-01-01", 8, "idw"), reporting, np.ones(3, bool), np.array([8])).all()
