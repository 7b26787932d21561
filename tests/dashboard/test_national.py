"""The national dataset in the dashboard: offered in the sidebar, maps over China on a coarser grid, a hint
that it is slower, and the hotspots and siting pages render on it (AppTest, tiny national-like fixture)."""

from __future__ import annotations

import json

import pytest

from core.reanalysis.domain import CHINA_BBOX
from tests.dashboard.conftest import assert_clean, goto, link_shared_geo, make_app, serving_data, texts
from tests.data.make_data import STATIONS, make_cnemc_folder

NATIONAL = "cnemc_china_2019"
# BTH stations of the default fixture plus far-away cities: the network spans ~40° of longitude
FAR = (
    ("1141A", "普陀", "上海", 121.426, 31.238),
    ("1345A", "广雅中学", "广州", 113.234, 23.141),
    ("1431A", "金泉两河", "成都", 104.036, 30.712),
    ("1581A", "监测站", "乌鲁木齐", 87.643, 43.813),
    ("1122A", "省农科院", "哈尔滨", 126.623, 45.765),
)


@pytest.fixture(params=["no geo", "geo"])
def national_data(request, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A data folder with a tiny national and BTH dataset; with the real geo layers (linked into the
    temporary folder) when ../shared/data is present, else none (maps without boundaries, still clean)."""
    make_cnemc_folder(tmp_path / "raw" / NATIONAL, start="2019-01-10", n_days=3, stations=STATIONS + FAR)
    make_cnemc_folder(tmp_path / "raw" / "cnemc_bth_2019", start="2019-01-10", n_days=3)
    if request.param == "geo":
        link_shared_geo(tmp_path)
    with serving_data(tmp_path, monkeypatch):
        yield tmp_path


def decks(at) -> list[dict]:
    return [json.loads(d.proto.json) for d in at.get("deck_gl_json_chart")]


def test_national_dataset_is_offered_and_maps_cover_china(national_data) -> None:
    from dashboard import loaders

    at = make_app("hotspots")
    at.query_params["dataset"] = "cnemc_bth_2019"
    at.run()
    assert_clean(at)
    box = at.sidebar.selectbox(key="sb_dataset")
    assert NATIONAL in box.options and "National network" not in texts(at)
    bth_view = decks(at)[0]["initialViewState"]
    box.set_value(NATIONAL).run()
    assert_clean(at)
    info = loaders.dataset_info(NATIONAL)
    assert info["national"] and tuple(info["bbox"]) == CHINA_BBOX and loaders.grid_res(info) == 0.25
    assert not loaders.dataset_info("cnemc_bth_2019")["national"]
    hint = [c.value for c in at.sidebar.caption if "National network" in c.value]
    assert hint and "slower" in hint[0] and f"{info['n_stations']:,} stations" in hint[0]
    view = decks(at)[0]["initialViewState"]
    w, s, e, n = CHINA_BBOX
    assert w < view["longitude"] < e and s < view["latitude"] < n
    assert view["zoom"] < bth_view["zoom"] - 1  # the whole country, not the BTH box
    if (national_data / "geo").exists():  # land context around China: the world layer reaches west of 95 °E
        lons = [pt[0] for f in loaders.geo_layers(national=True)["countries"]["features"]
                for pt in _points(f["geometry"]["coordinates"])]
        assert min(lons) < 75.0 and max(lons) > 135.0
    surface = loaders.run_scenario(NATIONAL, at.session_state["sb_date"].isoformat(), "idw", (), True)
    lon = surface.grid["lon"].values
    assert lon.min() < 74.0 and lon.max() > 134.0 and abs(float(lon[1] - lon[0]) - 0.25) < 1e-6


def test_siting_page_works_on_the_national_dataset(national_data) -> None:
    if not (national_data / "geo").exists():
        pytest.skip("siting ranks people: needs the population grid of the geo layers")
    at = make_app("siting", dataset=NATIONAL)
    at.run()
    assert_clean(at)
    assert "proposed sites" in texts(at)
    goto(at, "hotspots")
    assert_clean(at)


def _points(coords):
    """Every (lon, lat) pair of a GeoJSON coordinates array, at any nesting depth."""
    if coords and isinstance(coords[0], (int, float)):
        yield coords
    else:
        for c in coords:
            yield from _points(c)
