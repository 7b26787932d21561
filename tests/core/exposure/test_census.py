"""Census units and their table: joins, CRS checks, vulnerability shares."""

from __future__ import annotations

import pytest

from core.errors import UnusableData
from core.exposure import join_census, vulnerability_indicators
from tests.core.exposure.cases import make_units


def test_crs_mismatch_is_a_clear_error():
    g, t = make_units([(116, 39, 117, 40)], [1.0], [0.1], crs="EPSG:3857")
    with pytest.raises(UnusableData, match=r"CRS mismatch.*EPSG:3857.*EPSG:4326.*to_crs"):
        join_census(g, t)
    with pytest.raises(UnusableData, match="no CRS"):
        join_census(g.set_crs(None, allow_override=True), t)


def test_census_table_without_needed_fields():
    g, t = make_units([(116, 39, 117, 40)], [1.0], [0.1])
    with pytest.raises(UnusableData, match="lacks the fields HOUS_SAMP_WATR"):
        join_census(g, t.drop(columns="HOUS_SAMP_WATR"))


def test_units_missing_from_census_table_are_named():
    g, t = make_units([(116, 39, 117, 40), (117, 39, 118, 40), (116, 39.5, 117, 40)], [1.0, 2.0, 3.0], [0.1] * 3)
    with pytest.raises(UnusableData, match=r"2 census unit\(s\).*101, 102"):
        join_census(g, t.iloc[:1])


def test_vulnerability_indicators_are_shares(two_zones):
    vul = vulnerability_indicators(two_zones)
    assert vul["rural"].tolist() == [0.5, 0.5]
    assert vul["no_tap_water"].tolist() == pytest.approx([0.1, 0.1])
