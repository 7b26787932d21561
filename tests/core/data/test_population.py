"""The population grid: one cached reader with clear errors; totals kept on coarser and finer grids, points read
their containing cell."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.contracts.grid import GridSpec
from core.data import population
from core.data.population import grid_population, load_population_grid, point_population, read_population_table
from core.errors import CorruptFile, DataNotFound
from tests.factories import city_population_grid


@pytest.fixture
def pop() -> xr.DataArray:
    return city_population_grid()


@pytest.mark.parametrize("res", [0.05, 0.1, 0.2, 0.25])
def test_grid_population_keeps_the_total(pop, res):
    g = GridSpec.from_bbox((116.0, 39.0, 117.0, 40.0), res=res)
    total = float(np.nansum(pop.values))
    assert grid_population(g.lat, g.lon, pop).sum() == pytest.approx(total, rel=1e-6)


def test_point_population_reads_the_containing_cell(pop):
    got = point_population(np.array([39.76, 39.01, 45.0]), np.array([116.21, 116.01, 116.5]), pop)
    assert got.tolist() == [1e6, 0.0, 0.0]  # the city; a NaN cell; outside the grid


@pytest.fixture
def grid_csv(tmp_path):
    """A 3-cell population layer folder like <data>/geo/pop_grid_0p1deg_bth: two cells in one row, one missing."""
    folder = tmp_path / population.POP_LAYER
    folder.mkdir()
    path = folder / population.POP_FILE
    path.write_text("FID,province,lon_center,lat_center,pop_2005,pop_2015\n"
                    "1,a,116.05,39.05,10,11\n2,a,116.15,39.05,20,21\n3,a,116.25,39.15,30,31\n", encoding="utf-8")
    return path


def test_reader_returns_the_year_column(grid_csv):
    df = read_population_table(grid_csv, year=2005)
    assert list(df.columns) == ["lon_center", "lat_center", "pop_2005"]
    assert df["pop_2005"].tolist() == [10, 20, 30]


def test_reader_parses_once_and_hands_out_copies(grid_csv, monkeypatch):
    mine = read_population_table(grid_csv)
    mine["pop_2015"] = -1  # a caller changing its copy
    calls = []
    monkeypatch.setattr(population.pd, "read_csv", lambda *a, **k: calls.append(a) or pytest.fail("read again"))
    assert read_population_table(grid_csv)["pop_2015"].tolist() == [11, 21, 31]
    assert not calls


def test_reader_reads_a_rewritten_file_again(grid_csv):
    assert read_population_table(grid_csv)["pop_2015"].sum() == 63
    grid_csv.write_text("lon_center,lat_center,pop_2015\n116.05,39.05,1000\n", encoding="utf-8")
    assert read_population_table(grid_csv)["pop_2015"].tolist() == [1000]


def test_grid_has_nan_where_the_file_has_no_cell(grid_csv):
    grid = load_population_grid(grid_csv.parent)
    np.testing.assert_allclose(grid["lat"], [39.05, 39.15])
    np.testing.assert_allclose(grid["lon"], [116.05, 116.15, 116.25])
    np.testing.assert_array_equal(grid.values, [[11, 21, np.nan], [np.nan, np.nan, 31]])


def test_missing_file_and_missing_column_are_clear_errors(grid_csv, tmp_path):
    with pytest.raises(DataNotFound, match="Population grid .* not found"):
        read_population_table(tmp_path / "nowhere.csv")
    with pytest.raises(CorruptFile, match="expected columns lon_center, lat_center, pop_2010"):
        read_population_table(grid_csv, year=2010)
