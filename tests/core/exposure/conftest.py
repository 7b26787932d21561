"""Fixtures of the exposure tests."""

from __future__ import annotations

import geopandas as gpd
import pytest

from core.exposure import join_census
from tests.core.exposure.cases import make_units


@pytest.fixture
def two_zones() -> gpd.GeoDataFrame:
    """West unit (1,000 people, 10 % aged 65+) and east unit (3,000 people, 30 % aged 65+), 1° squares."""
    g, t = make_units([(116, 39, 117, 40), (117, 39, 118, 40)], [1000.0, 3000.0], [0.1, 0.3])
    return join_census(g, t)
