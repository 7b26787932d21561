"""Display names: annotations stripped, Chinese + pinyin/English, BTH cities first (dashboard/names.py)."""

from __future__ import annotations

import pytest

from dashboard import names


@pytest.mark.parametrize(("raw", "clean"), [
    ("文明里(启用171012)", "文明里"), ("市城管局(181124启用)", "市城管局"),
    ("梁园区档案局(20190220启用)", "梁园区档案局"),
    ("德源药业(直管站)", "德源药业"), ("宜春学院北校区（181229启用）", "宜春学院北校区"), ("万寿西宫", "万寿西宫"),
])
def test_list_annotations_are_stripped(raw: str, clean: str) -> None:
    assert names.strip_annotation(raw) == clean


def test_station_label_has_chinese_and_pinyin() -> None:
    want = "文明里 Wenmingli (秦皇岛 Qinhuangdao, 3132A)"
    assert names.station_label("3132A", "文明里(启用171012)", "秦皇岛") == want


@pytest.mark.parametrize(("city", "label"), [("北京", "北京 Beijing"), ("长治", "长治 Changzhi"),
                                            ("石家庄市", "石家庄 Shijiazhuang")])
def test_city_label(city: str, label: str) -> None:
    assert names.city_label(city) == label


def test_bth_cities_come_first() -> None:
    out = names.sort_cities(["郑州", "衡水", "连云港", "北京", "天津", "长治"])
    assert out[:3] == ["北京", "天津", "衡水"] and set(out[3:]) == {"郑州", "连云港", "长治"}


@pytest.mark.parametrize(("zh", "en"), [
    ("石家庄高新技术产业开发区", "Shijiazhuang Hi-tech Industrial Development Zone"),
    ("河北唐山芦台经济开发区", "Tangshan Lutai Economic Development Zone"),
    ("北戴河新区", "Beidaihe New Area"),
])
def test_census_units_without_english_get_one(zh: str, en: str) -> None:
    assert names.unit_english(zh) == en
