"""Pure builders of the justice page: terciles, bivariate classes, legend, map data, sentences, brief."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from core.contracts.grid import GridSpec
from core.contracts.kriger import grid_dataset
from core.exposure import join_census, summarize, unit_exposure
from dashboard import justice_layers as jl


@pytest.fixture(params=[False, True], ids=["no-bounds", "bounds"])
def result(request):
    """Nine 0.5°-square units over a 3 × 3 grid; PM2.5 rises eastwards, 65+ share rises northwards."""
    lat, lon = np.array([39.25, 39.75, 40.25]), np.array([116.25, 116.75, 117.25])
    boxes = [shapely.box(x - 0.25, y - 0.25, x + 0.25, y + 0.25) for y in lat for x in lon]
    codes = [f"13{i:04d}" for i in range(8)] + ["130171"]  # the last one is a development zone
    units = gpd.GeoDataFrame({"CODE": codes}, geometry=boxes, crs="EPSG:4326")
    table = pd.DataFrame({"CODE": codes, "NAME": [f"县{i}" for i in range(8)] + ["石家庄高新技术产业开发区"],
                          "POPU": [1000.0 * (i + 1) for i in range(9)],
                          "AGES_65P": [0.1 + 0.05 * (i // 3) for i in range(9)], "AGES_0-14": 0.2, "EDUC_LITR": 0.02,
                          "POPU_URB": 0.6, "HOUS_SAMP_WATR": 0.95})
    field = np.tile(np.array([20.0, 60.0, 100.0]), (3, 1))
    times = pd.date_range("2019-01-01", periods=48, freq="h").values
    pm = np.broadcast_to(field, (48, 3, 3)).copy()
    bounds = {"lo": pm * 0.8, "hi": pm * 1.3} if request.param else {}
    surf = grid_dataset(times, GridSpec(lat=lat, lon=lon), pm, **bounds)
    return unit_exposure(surf, join_census(units, table))


@pytest.mark.parametrize(("values", "weights", "want"), [
    ([1, 2, 3], [1, 1, 1], [0, 1, 2]),
    ([1, 2, 3, 4], [1, 1, 1, 3], [0, 0, 1, 2]),  # the heavy unit holds half the people: top class
    ([np.nan, 1, 2], [1, 1, 1], [-1, 0, 2]),  # NaN → no class; two units → bottom and top
])
def test_weighted_terciles(values, weights, want):
    cls, _ = jl.weighted_terciles(np.array(values, float), np.array(weights, float))
    assert cls.tolist() == want


def test_bivariate_classes_and_geojson(result):
    cls = jl.bivariate_classes(result.table, "age65p")
    assert set(cls["exp_class"]) == {0, 1, 2} and set(cls["vul_class"]) <= {0, 1, 2}
    high = cls.loc[(cls["exp_class"] == 2) & (cls["vul_class"] == 2), "bivar_color"]
    assert (high == jl.BIVARIATE[2][2]).all() and len(high) >= 1
    gj = jl.choropleth_geojson(result.table, "age65p")
    assert len(gj["features"]) == 9
    props = gj["features"][0]["properties"]
    assert {"code", "name", "fill", "pm25", "vul", "population", "klass"} <= set(props) and len(props["fill"]) == 4
    json.dumps(gj)  # serialisable for pydeck
    layer = jl.choropleth_layer(gj)
    assert layer.type == "GeoJsonLayer"


def test_legend_has_nine_cells():
    html = jl.legend_html("rural", (10.0, 20.0), (0.2, 0.4))
    px = jl.LEGEND_CELL_PX
    assert html.count(f"width:{px}px;height:{px}px") == 9
    assert "Rural share" in html and "low ≤ 20.0 %, mid ≤ 40.0 %" in html and "low ≤ 10.0, mid ≤ 20.0" in html


def test_ranked_table_and_scatter(result):
    ranked = jl.ranked_table(result.table, "age65p")
    assert ranked["PM2.5 (µg/m³)"].is_monotonic_decreasing and ranked["rank"].tolist() == list(range(1, 10))
    assert (ranked["province"] == "Hebei").all()
    # Zones have no English name upstream: city romanised, suffix translated (was "development zone 130171").
    assert (ranked["unit"] == "Shijiazhuang Hi-tech Industrial Development Zone").sum() == 1
    assert "名称" not in ranked.columns and "name (Chinese)" in ranked.columns
    fig = jl.scatter_figure(result.table, "age65p")
    assert len(fig.data) == 1 and len(fig.data[0].x) == 9


def test_sentences_and_brief(result):
    s = summarize(result, n_boot=50)
    sentences = jl.key_sentences(s, "age65p", "2019-01-01 … 2019-01-02", "idw")
    assert "NBS 2020 census" in sentences[0] and f"{s['pop_weighted_pm25']:.1f}" in sentences[0]
    assert any("WHO 2021" in x and "GB 3095-2012" in x for x in sentences)
    if "pop_weighted_pm25_lo" in s:  # the surface's bounds are carried into the text
        assert f"model interval {s['pop_weighted_pm25_lo']:.1f}–{s['pop_weighted_pm25_hi']:.1f}" in sentences[0]
        assert "uncertainty bounds the ratio ranges" in sentences[-1]
    query = {"dataset": "cnemc_bth_2019", "page": "justice", "ej_indicator": "age65p"}
    link = jl.scenario_link("http://host:8501", query)
    assert link == "http://host:8501/?dataset=cnemc_bth_2019&page=justice&ej_indicator=age65p"
    brief = jl.brief_html(s, result.table, "age65p", "2019-01-01 … 2019-01-02", "idw", link)
    assert brief.startswith("<!doctype html>") and "<svg" in brief and link.replace("&", "&amp;") in brief
    assert "National Bureau of Statistics" in brief and "GHSL" in brief and "Method" in brief
    geo = json.loads(jl.unit_geojson(result.table, "age65p"))
    assert len(geo["features"]) == 9 and "bivar_label" in geo["features"][0]["properties"]
    assert jl.unit_csv(result.table).splitlines()[0].startswith("CODE,NAME,")


@pytest.mark.parametrize("indicator", ["age65p", "no_tap_water"])
def test_bivariate_legend_is_readable(indicator):
    """Readable at a glance: the legend once had 26-px cells in 12-px text and its metric title was cut."""
    import re

    html = jl.legend_html(indicator, (40.0, 80.0), (0.1, 0.2))
    cells = re.findall(r"width:(\d+)px;height:(\d+)px", html)
    assert len(cells) == 9 and all(int(w) >= 36 and int(h) >= 36 for w, h in cells)
    assert "font-size:14px" in html and "white-space:normal" in html  # the indicator name wraps, never cut
    assert f"{jl.indicator_label(indicator)} →" in html


def test_readable_numbers_formats_counts_and_areas():
    from dashboard.ui import readable_numbers

    frame = pd.DataFrame({"population": [1234567], "area (km²)": [172811.7], "PM2.5 (µg/m³)": [75.2],
                          "people inside": ["1.2 million"]})
    cfg = readable_numbers(frame)
    assert set(cfg) == {"population", "area (km²)"}
    assert all(c["type_config"]["format"] == "localized" for c in cfg.values())


def test_map_layers_put_units_over_land_and_under_provinces_and_labels():
    class Lyr:
        def __init__(self, layer_id: str) -> None:
            self.id = layer_id

    units = jl.choropleth_layer({"type": "FeatureCollection", "features": []})
    provinces = {"type": "FeatureCollection", "features": []}
    got = jl.map_layers(units, [Lyr("countries")], [Lyr("outlines"), Lyr("places")], provinces)
    assert [lyr.id for lyr in got] == ["countries", "ej_units", "provinces", "places"]
    assert [lyr.id for lyr in jl.map_layers(units, [], [Lyr("outlines")], None)] == ["ej_units"]
