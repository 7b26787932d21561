"""Hotspots: one regional blob splits into local peaks by prominence; relative mode; confidence; hidden."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidRequest
from core.hotspots import (
    CONFIRMED,
    NO_INTERVAL,
    POSSIBLE,
    Threshold,
    display_table,
    hotspot_table,
    people_text,
    split_peaks,
)

LAT = np.round(np.arange(38.0, 40.0, 0.05) + 0.025, 3)
LON = np.round(np.arange(115.0, 118.0, 0.05) + 0.025, 3)


def _bump(lat0: float, lon0: float, height: float, width: float = 0.25) -> np.ndarray:
    la, lo = np.meshgrid(LAT, LON, indexing="ij")
    return height * np.exp(-((la - lat0) ** 2 + (lo - lon0) ** 2) / (2 * width**2))


@pytest.fixture
def episode() -> np.ndarray:
    """A polluted plain (90 everywhere) with two peaks ~100 km apart: 200 near (39, 116), 160 near (39, 117)."""
    return 90 + _bump(39.0, 116.0, 110) + _bump(39.0, 117.0, 70)


@pytest.mark.parametrize(("prominence", "n"), [(10.0, 2), (200.0, 1)])
def test_one_blob_splits_into_its_peaks(episode, prominence, n):
    labels = split_peaks(episode, episode > 75, prominence)
    assert labels.max() == n
    assert (labels > 0).sum() == (episode > 75).sum()  # every above cell belongs to a peak, none outside


def test_table_ranks_local_peaks_with_people_and_confidence(episode):
    la, lo = np.meshgrid(LAT, LON, indexing="ij")
    people = np.where(lo > 116.5, 50_000.0, 1_000.0)  # the lower peak is where people live
    lower, upper = episode - 30, episode + 30
    monitors = (np.array([39.0]), np.array([116.0]))  # a monitor at the higher peak only
    ranked, table, level = hotspot_table(episode, LAT, LON, Threshold("absolute", 75), monitors=monitors,
                                         lo=lower, hi=upper, people=people, min_prominence=10)
    assert level == 75 and len(table) == 2
    first, second = table.iloc[0], table.iloc[1]
    assert first["peak_lon"] == pytest.approx(117.0, abs=0.05)  # people × excess ranks the peopled one first
    assert first["peak"] == pytest.approx(160, abs=2) and second["peak"] == pytest.approx(200, abs=2)
    assert first["hidden"] and not second["hidden"]  # ~85 km vs 0 km from the monitor
    assert second["nearest_monitor_km"] < 4
    assert set(table["confidence"]) == {CONFIRMED}  # peak − 30 is still above 75
    assert table["people"].sum() == pytest.approx(people[episode > 75].sum())
    assert set(np.unique(ranked)) == {1, 2}  # the whole plain is above 75, split between the two


def test_confidence_possible_and_no_interval(episode):
    _, t, _ = hotspot_table(episode, LAT, LON, Threshold("absolute", 75), lo=episode - 150, hi=episode + 150)
    assert set(t["confidence"]) == {POSSIBLE}
    _, t, _ = hotspot_table(episode, LAT, LON, Threshold("absolute", 75))
    assert set(t["confidence"]) == {NO_INTERVAL} and t["nearest_monitor_km"].isna().all()


def test_relative_mode_finds_what_stands_out_when_all_is_high(episode):
    high = episode + 200  # everything above 75: absolute mode would see one area covering the map
    _, t_abs, _ = hotspot_table(high, LAT, LON, Threshold("absolute", 75), min_prominence=1000)
    assert len(t_abs) == 1 and t_abs["cells"].iloc[0] == high.size
    _, t_rel, level = hotspot_table(high, LAT, LON, Threshold("relative", 30))
    assert level == pytest.approx(np.median(high) + 30)
    assert len(t_rel) == 2 and t_rel["cells"].sum() < high.size / 3


def test_bad_mode_and_empty_field():
    with pytest.raises(InvalidRequest, match="mode"):
        Threshold("sideways", 1).level(np.ones((2, 2)))
    with pytest.raises(InvalidRequest, match="no finite value"):
        Threshold("relative", 1).level(np.full((2, 2), np.nan))
    _, t, _ = hotspot_table(np.full((len(LAT), len(LON)), 10.0), LAT, LON, Threshold("absolute", 75))
    assert t.empty and list(t.columns)[0] == "rank"


@pytest.mark.parametrize(("n", "text"), [(2_345_678, "2.3 million"), (35_400, "35 thousand"), (812, "812"),
                                         (float("nan"), "–")])
def test_people_text(n, text):
    assert people_text(n) == text


def test_display_table_has_units_and_readable_numbers(episode):
    _, t, _ = hotspot_table(episode, LAT, LON, Threshold("absolute", 75), lo=episode - 5, hi=episode + 5,
                            people=np.full(episode.shape, 2e4), monitors=(np.array([39.0]), np.array([116.0])))
    shown = display_table(t)
    assert "people inside" in shown and "area (km²)" in shown and shown["area (km²)"].dtype.kind == "i"
    assert shown["people inside"].str.contains("million|thousand").all()
    assert shown["90 % interval at peak (µg/m³)"].str.match(r"^\d+–\d+$").all()


def test_separate_areas_stay_separate_and_name_their_districts():
    lat = np.arange(10) * 0.1 + 38.0
    lon = np.arange(12) * 0.1 + 115.0
    f = np.full((10, 12), 40.0)
    f[1:3, 1:3] = 90.0  # small, mild: 4 cells
    f[5:9, 6:11] = 200.0  # large, strong: 20 cells
    f[5, 5] = 120.0  # touches the large one diagonally → same hotspot with 8-connectivity
    district = np.full(f.shape, "A区", dtype=object)
    district[:, 6:] = "B区"
    labels, table, _ = hotspot_table(f, lat, lon, Threshold("absolute", 75), district=district)
    assert list(table["rank"]) == [1, 2]
    assert table.loc[0, "peak"] == 200.0 and table.loc[1, "peak"] == 90.0
    assert (labels == 1).sum() == 21 and (labels == 2).sum() == 4
    assert table.loc[0, "districts"].startswith("B区") and "A区" in table.loc[0, "districts"]
    assert table.loc[1, "districts"] == "A区"
    assert table.loc[0, "area_km2"] > table.loc[1, "area_km2"] > 0
