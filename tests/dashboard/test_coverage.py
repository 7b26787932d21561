"""Hours reported and distance to the nearest reporting station (dashboard/coverage.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import coverage


@pytest.mark.parametrize(("hours", "text"), [([8], "08:00"), ([0, 1, 2, 5], "00:00–02:00, 05:00"), ([], "")])
def test_hours_label(hours, text) -> None:
    assert coverage.hours_label(np.array(hours)) == text


def test_nearest_km_and_far_message_with_intervals() -> None:
    lat, lon = np.arange(38.0, 41.01, 0.1), np.arange(114.0, 118.01, 0.1)
    d = coverage.nearest_km(lat, lon, np.array([38.0]), np.array([114.0]))
    assert d[0, 0] == pytest.approx(0.0) and d[10, 0] == pytest.approx(111.2, rel=0.01)  # 1° north
    shown = np.ones(d.shape, bool)
    width = np.where(d > 50, 80.0, 20.0)
    msg = coverage.far_message(d, shown, width, level="90 %")
    assert msg and "more than 50 km from any reporting station" in msg
    assert "90 % interval width there: 80 µg/m³ (vs 20 µg/m³ within 50 km" in msg
    assert coverage.far_share(d, shown) > 90
    near = coverage.nearest_km(lat, lon, *np.meshgrid(lat, lon, indexing="ij"))
    assert coverage.far_message(near, shown) is None


def test_no_station_at_all_is_far_everywhere() -> None:
    d = coverage.nearest_km(np.array([39.0]), np.array([116.0]), np.array([]), np.array([]))
    assert np.isinf(d).all() and "(no station reports)" in coverage.far_message(d, np.ones((1, 1), bool))


@pytest.mark.parametrize(("now", "base", "alarm"), [(47, 47, False), (96, 47, True), (58, 47, True), (65, 65, True)])
def test_far_is_alarming(now, base, alarm) -> None:
    assert coverage.far_is_alarming(now, base) is alarm
