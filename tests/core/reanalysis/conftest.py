"""Small station folders for the reanalysis tests (BTH-like and one spread over China)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.reanalysis.work import ReanalysisSpec
from tests.data.make_data import make_cnemc_folder

BBOX = (114.0, 37.5, 118.0, 40.5)
# code, name, city, lon, lat — real places across the country (cities' national stations)
NATIONAL = (
    ("1001A", "万寿西宫", "北京", 116.366, 39.8673),
    ("1015A", "市监测中心", "天津", 117.151, 39.097),
    ("1029A", "职工医院", "石家庄", 114.462, 38.067),
    ("1081A", "尖草坪", "太原", 112.487, 37.939),
    ("1141A", "上海普陀", "上海", 121.401, 31.242),
    ("1345A", "广雅中学", "广州", 113.248, 23.143),
    ("1418A", "成都君平街", "成都", 104.059, 30.657),
    ("1509A", "拉萨市监测站", "拉萨", 91.130, 29.652),
    ("1540A", "乌鲁木齐监测站", "乌鲁木齐", 87.581, 43.831),
    ("1114A", "哈尔滨道里", "哈尔滨", 126.617, 45.760),
    ("1556A", "兰州职工医院", "兰州", 103.842, 36.058),
    ("1440A", "昆明东风", "昆明", 102.713, 25.043),
)


@pytest.fixture(scope="session")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cnemc_folder(tmp_path_factory.mktemp("cnemc"), n_days=2).path


@pytest.fixture(scope="session")
def national_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cnemc_folder(tmp_path_factory.mktemp("cnemc_cn"), n_days=2, stations=NATIONAL).path


def small_spec(folder: Path, block_hours: int = 6, res: float = 0.25, model: str = "idw", **kw) -> ReanalysisSpec:
    """48 hours over a 12 × 16 grid (one tile unless ``tile_deg`` says otherwise)."""
    return ReanalysisSpec(model=model, start="2020-03-01T00:00", end="2020-03-02T23:00", res=res, bbox=BBOX,
                          path=str(folder), block_hours=block_hours, **kw)
