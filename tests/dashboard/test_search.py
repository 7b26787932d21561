"""Place search: Chinese and pinyin names, station codes, "lat, lon", clear messages for misses."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.search import build_index, search

BBOX = (113.4, 36.0, 119.9, 42.7)


@pytest.fixture
def index() -> pd.DataFrame:
    districts = {"features": [
        {"properties": {"city": "北京市", "name": "海淀区"},
         "geometry": {"type": "Polygon", "coordinates": [[[116.2, 39.9], [116.4, 39.9], [116.4, 40.1], [116.2, 40.1],
                                                          [116.2, 39.9]]]}},
    ]}
    places = pd.DataFrame({"name": ["Baoding", "Beijing"], "name_zh": ["保定", "北京"], "lat": [38.87, 39.9],
                           "lon": [115.46, 116.4]})
    stations = pd.DataFrame({"code": ["1001A"], "name": ["万寿西宫"], "city": ["北京"], "lat": [39.88],
                             "lon": [116.35]})
    return build_index(districts, places, stations)


@pytest.mark.parametrize(("query", "kind", "label"), [
    ("海淀", "district", "海淀区 (北京市)"), ("海淀区", "district", "海淀区 (北京市)"),
    ("baoding", "city", "Baoding 保定"), ("保定市", "city", "Baoding 保定"),
    ("1001a", "station", "万寿西宫 (北京, station 1001A)"), ("万寿", "station", "万寿西宫 (北京, station 1001A)"),
])
def test_names_find_places(index, query, kind, label):
    rows, msg = search(query, index)
    assert msg == "" and rows.iloc[0]["kind"] == kind and rows.iloc[0]["label"] == label


def test_exact_beats_substring(index):
    rows, _ = search("北京", index)
    assert rows.iloc[0]["label"] == "Beijing 北京"  # exact city key before the station in 北京


@pytest.mark.parametrize(("query", "ok", "msg"), [
    ("39.9, 116.4", True, ""), ("39.9 116.4", True, ""),
    ("116.4, 39.9", False, "lat first"), ("10, 10", False, "outside the map"),
    ("Atlantis", False, "No district, city or station matches"),
])
def test_coordinates_and_misses(index, query, ok, msg):
    rows, text = search(query, index, BBOX)
    assert (len(rows) == 1) is ok and msg in text
