"""Display names: Chinese with pinyin/English side by side, list annotations stripped, BTH cities first.

English comes from the offline GeoNames places (``name_zh`` → ``name``) where a place is there,
else from pypinyin (romanised, tones dropped); without pypinyin only the Chinese is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd

# The 13 BTH cities (short Chinese names), in the usual order: municipalities, then Hebei's capital.
BTH_CITIES = ("北京", "天津", "石家庄", "唐山", "秦皇岛", "邯郸", "邢台", "保定", "张家口", "承德", "沧州",
              "廊坊", "衡水")
# Station-list annotations: commissioning dates "(启用171012)", "(20190220启用)", "(直管站)" (state-run),
# in ASCII or full-width brackets. They are list notes, not part of a station's name.
_ANNOTATION = re.compile(r"\s*[(（][^()（）]*(?:启用|直管|\d{6,8})[^()（）]*[)）]")
# Chinese polyphones pypinyin reads wrongly in place names (长 is cháng in 长治, not zhǎng).
_PINYIN_FIX = {"长治": "Changzhi"}
# Generic suffixes of unit names, translated rather than romanised (longest first).
_SUFFIXES = (
    ("高新技术产业开发区", "Hi-tech Industrial Development Zone"),
    ("经济技术开发区", "Economic-Technological Development Zone"),
    ("经济开发区", "Economic Development Zone"), ("循环化工园区", "Circular Chemical Industry Park"),
    ("管理区", "Administrative Area"), ("新区", "New Area"), ("新城", "New Town"),
)


def strip_annotation(name: str) -> str:
    """``'文明里(启用171012)'`` → ``'文明里'``; other names unchanged."""
    out = _ANNOTATION.sub("", str(name)).strip()
    return out or str(name)


def short_city(city: str) -> str:
    return str(city).strip().removesuffix("市")


@lru_cache(maxsize=1)
def _geonames() -> dict[str, str]:
    """Chinese → English place names from the offline GeoNames extract ({} without geo layers)."""
    from core.errors import AirAtlasError
    from core.paths import geo_dir

    try:
        df = pd.read_csv(geo_dir() / "basemap_offline" / "bth_geonames_places_pop500.csv",
                         usecols=["name", "name_zh", "population"])
    except (AirAtlasError, OSError, ValueError):
        return {}
    df = df.dropna().sort_values("population", ascending=False).drop_duplicates("name_zh")
    return dict(zip(df["name_zh"].astype(str), df["name"].astype(str), strict=True))


@lru_cache(maxsize=4096)
def pinyin(text: str) -> str:
    """Romanised ``text`` (one capitalised word, tones dropped); '' without pypinyin or for non-Chinese text."""
    text = str(text).strip()
    if not re.search(r"[\u4e00-\u9fff]", text):
        return ""
    if text in _PINYIN_FIX:
        return _PINYIN_FIX[text]
    try:
        from pypinyin import lazy_pinyin
    except ImportError:
        return ""
    return "".join(lazy_pinyin(text)).capitalize()


def english(name_zh: str) -> str:
    """GeoNames English name where known (also for 'X市'), else pinyin."""
    name = str(name_zh).strip()
    g = _geonames()
    return g.get(name) or g.get(short_city(name)) or pinyin(short_city(name))


def city_label(city: str) -> str:
    """``'秦皇岛'`` → ``'秦皇岛 Qinhuangdao'``."""
    c = short_city(city)
    en = english(c)
    return f"{c} {en}" if en else c


def station_label(code: str, name: str, city: str) -> str:
    """``'文明里 Wenmingli (秦皇岛 Qinhuangdao, 3132A)'``."""
    n = strip_annotation(name)
    en = pinyin(n)
    return f"{n}{' ' + en if en else ''} ({city_label(city)}, {code})"


def station_labels(codes: Iterable, names: Iterable, cities: Iterable) -> dict[str, str]:
    return {str(c): station_label(str(c), str(n), str(ci)) for c, n, ci in zip(codes, names, cities, strict=True)}


def sort_cities(cities: Iterable[str]) -> list[str]:
    """BTH cities first (in :data:`BTH_CITIES` order), then the others by pinyin."""
    cities = list(dict.fromkeys(str(c) for c in cities))
    bth = [c for c in BTH_CITIES if c in cities] + [c for c in cities if short_city(c) in BTH_CITIES
                                                    and c not in BTH_CITIES]
    rest = sorted((c for c in cities if c not in bth), key=lambda c: (english(c) or c).lower())
    return bth + rest


def unit_english(name_zh: str) -> str:
    """English for a census unit without one upstream: city part romanised, generic suffix translated.

    ``'石家庄高新技术产业开发区'`` → ``'Shijiazhuang Hi-tech Industrial Development Zone'``.
    """
    name = str(name_zh).strip().removeprefix("河北")
    tail = ""
    for zh, en in _SUFFIXES:
        if name.endswith(zh):
            name, tail = name[: -len(zh)], en
            break
    parts = []
    for city in BTH_CITIES:  # a leading city name keeps its GeoNames spelling and becomes its own word
        if name.startswith(city):
            parts.append(english(city))
            name = name[len(city):].removeprefix("市")
            break
    if name:
        parts.append(english(name))
    return " ".join(p for p in [*parts, tail] if p) or str(name_zh)
