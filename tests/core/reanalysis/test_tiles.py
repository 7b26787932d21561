"""Spatial tiles: tiled and untiled runs give identical arrays; halos; the national domain mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from core.contracts.grid import GridSpec
from core.engine.models import get_model
from core.geo import haversine_km
from core.reanalysis.domain import BBOX_MASK, CHINA_BBOX, CHINA_MASK, boundary_path, cell_mask
from core.reanalysis.tiles import halo_stations, neighbourhood_km, tiles
from core.reanalysis.work import ReanalysisSpec, plan
from core.reanalysis.workflow import run_local
from tests.core.reanalysis.conftest import small_spec


@pytest.mark.parametrize("shape", [(12, 16), (7, 5), (1, 1)])
@pytest.mark.parametrize("side", [1, 3, 100])
def test_tiles_cover_every_cell_once(shape: tuple[int, int], side: int) -> None:
    count = np.zeros(shape, int)
    for t in tiles(shape, side):
        count[t.y0:t.y1, t.x0:t.x1] += 1
    assert (count == 1).all()


def test_plan_is_time_blocks_times_tiles(folder: Path) -> None:
    spec = small_spec(folder, block_hours=12, tile_deg=1.0)  # 12 × 16 cells, 4 a side → 3 × 4 tiles
    items = plan(spec)
    assert len(items) == 4 * 12 and len({it.name for it in items}) == len(items)
    assert {(it.i0, it.i1) for it in items} == {(0, 12), (12, 24), (24, 36), (36, 48)}


@pytest.mark.parametrize("tile_deg", [0.25, 1.0, 1.75])
def test_tiled_and_untiled_outputs_are_identical(folder: Path, tmp_path: Path, tile_deg: float) -> None:
    untiled = small_spec(folder, block_hours=24, tile_deg=10.0)
    tiled = small_spec(folder, block_hours=24, tile_deg=tile_deg)
    assert len(plan(tiled)) > len(plan(untiled)) == 2
    a = xr.open_zarr(run_local(untiled, tmp_path / "a.zarr", progress=False))["pm25"].values
    b = xr.open_zarr(run_local(tiled, tmp_path / "b.zarr", progress=False))["pm25"].values
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)


def test_spin_tiles_equal_an_untiled_run_with_intervals(folder: Path, tmp_path: Path) -> None:
    """The shipped spin reads every station (its hourly regional mean is network-wide): its tiles reuse one
    station encoding per block and read out only their cells, and still give the untiled values, bounds too
    (to float32 rounding: the readout's matrix products over fewer cells may sum in another order)."""
    untiled = small_spec(folder, block_hours=24, tile_deg=10.0, model="spin")
    tiled = small_spec(folder, block_hours=24, tile_deg=0.75, model="spin")  # 3 × 3-cell tiles, ragged edges
    a = xr.open_zarr(run_local(untiled, tmp_path / "a.zarr", progress=False))
    b = xr.open_zarr(run_local(tiled, tmp_path / "b.zarr", progress=False))
    assert {"pm25", "pm25_lo", "pm25_hi"} <= set(a.data_vars)
    for v in ("pm25", "pm25_lo", "pm25_hi"):
        assert np.isfinite(a[v].values).all()
        np.testing.assert_allclose(b[v].values, a[v].values, rtol=1e-6, atol=1e-4)


@pytest.mark.skipif(boundary_path() is None, reason="offline national boundary not present")
def test_china_grid_is_masked_to_the_national_boundary_and_tiles_agree(national_folder: Path, tmp_path: Path) -> None:
    def spec(tile_deg: float) -> ReanalysisSpec:
        return ReanalysisSpec(model="idw", start="2020-03-01T00:00", end="2020-03-01T05:00", res=1.0,
                              bbox=CHINA_BBOX, path=str(national_folder), block_hours=6, tile_deg=tile_deg,
                              mask=CHINA_MASK)

    a = xr.open_zarr(run_local(spec(100.0), tmp_path / "a.zarr", progress=False))
    b = xr.open_zarr(run_local(spec(7.0), tmp_path / "b.zarr", progress=False))
    np.testing.assert_array_equal(a["pm25"].values, b["pm25"].values)
    assert a.attrs["reanalysis_mask"] == CHINA_MASK and "national boundary" in a.attrs["reanalysis_domain"]
    pm = a["pm25"].sel(time="2020-03-01T03").load()
    assert np.isfinite(pm.sel(lat=39.5, lon=116.5, method="nearest").item())  # Beijing
    assert np.isfinite(pm.sel(lat=43.5, lon=87.5, method="nearest").item())  # Urumqi
    assert np.isnan(pm.sel(lat=46.5, lon=105.5, method="nearest").item())  # Mongolia
    assert np.isnan(pm.sel(lat=30.5, lon=130.5, method="nearest").item())  # East China Sea
    inside = np.isfinite(pm.values).mean()
    assert 0.3 < inside < 0.6  # China covers ~43 % of its bbox


def test_bbox_mask_is_every_cell() -> None:
    assert cell_mask(BBOX_MASK, GridSpec.from_bbox((0, 0, 2, 1), 0.5)).all()


@pytest.mark.parametrize("radius", [50.0, 150.0, 400.0])
def test_halo_holds_exactly_the_stations_within_reach_of_some_cell(radius: float) -> None:
    grid = GridSpec.from_bbox((116.0, 39.0, 117.0, 40.0), 0.1)
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(35, 44, 300), rng.uniform(111, 122, 300)
    lat[0] = lon[0] = np.nan  # no coordinates: never in a finite halo
    sel = halo_stations(lat, lon, grid, radius)
    glat, glon = grid.points()
    nearest = haversine_km(lat[1:], lon[1:], glat, glon).min(axis=1)
    assert not sel[0]
    np.testing.assert_array_equal(sel[1:], nearest <= radius + 1.0)
    assert 0 < sel.sum() < 300
    assert halo_stations(lat, lon, grid, None).all()


def test_models_that_use_every_station_read_every_station() -> None:
    # IDW weights all observed stations: its declared reach is unbounded, so tiles read the network.
    assert neighbourhood_km(get_model("idw")) is None
