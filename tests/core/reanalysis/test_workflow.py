"""Reanalysis: single-process reference, Dask path equality, kill -9 resume, refusal, GeoTIFF."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import core.reanalysis.workflow as wf
from core.errors import InvalidRequest
from core.io import write_geotiff
from core.paths import REPO_ROOT
from core.reanalysis.work import ReanalysisSpec, plan, run_item
from core.reanalysis.workflow import run_dask, run_local, store_path
from tests.core.reanalysis.conftest import BBOX
from tests.core.reanalysis.conftest import small_spec as _spec
from tests.data.make_data import make_cnemc_folder


def test_plan_covers_every_hour_once(folder: Path) -> None:
    items = plan(_spec(folder, block_hours=7))
    hours = np.concatenate([np.arange(it.i0, it.i1) for it in items])
    np.testing.assert_array_equal(hours, np.arange(48))


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_local_run_writes_cf_surface(folder: Path, tmp_path: Path, suffix: str) -> None:
    spec = _spec(folder)
    out = run_local(spec, tmp_path / f"pm{suffix}", progress=False)
    ds = xr.open_zarr(out) if suffix == ".zarr" else xr.open_dataset(out)
    assert ds["pm25"].shape == (48, *spec.grid().shape)
    assert ds["pm25"].attrs["units"] == "ug m-3"
    assert "pm2p5" in ds["pm25"].attrs["standard_name"]
    pm = ds["pm25"].values
    assert np.isfinite(pm).all()
    # IDW never leaves the range of the observed values of that hour (fixture: 10 + 7 s + hour).
    hour = np.arange(48) % 24
    assert (pm.min(axis=(1, 2)) >= 10 + hour - 1e-3).all() and (pm.max(axis=(1, 2)) <= 31 + hour + 1e-3).all()
    # The store equals the single-process step, item by item.
    item = plan(spec)[3]
    np.testing.assert_allclose(pm[item.i0:item.i1], run_item(spec, item)["pm25"].values)


def test_dask_path_gives_the_same_array(folder: Path, tmp_path: Path) -> None:
    spec = _spec(folder)
    ref = xr.open_zarr(run_local(spec, tmp_path / "ref.zarr", progress=False))["pm25"].values
    got = xr.open_zarr(run_dask(spec, tmp_path / "dask.zarr", workers=2, progress=False))["pm25"].values
    np.testing.assert_array_equal(ref, got)


def test_kill_9_mid_item_then_rerun_completes_identically(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL after item 3's region is written but before its marker: the rerun redoes 3+ only."""
    spec = _spec(folder)
    out = tmp_path / "killed.zarr"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import core.reanalysis.workflow as wf
        from core.reanalysis.work import ReanalysisSpec
        real_mark = wf.write_marker
        def mark(out, item, *a):
            if item.index == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            real_mark(out, item, *a)
        wf.write_marker = mark
        spec = ReanalysisSpec(**{spec.__dict__!r})
        wf.run_local(spec, Path({str(out)!r}), progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == -9, proc.stderr
    done = sorted(p.name for p in Path(str(out) + ".work").glob("*.done"))
    assert done == ["item-000000.done", "item-000001.done", "item-000002.done"]

    calls: list[int] = []
    real = wf.run_item
    monkeypatch.setattr(wf, "run_item", lambda spec_, item: calls.append(item.index) or real(spec_, item))
    run_local(spec, out, progress=False)
    assert calls == list(range(3, len(plan(spec))))
    ref = xr.open_zarr(run_local(spec, tmp_path / "ref.zarr", progress=False))["pm25"].values
    np.testing.assert_array_equal(xr.open_zarr(out)["pm25"].values, ref)


def test_existing_store_of_another_run_is_refused_not_overwritten(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.zarr"
    run_local(_spec(folder), out, progress=False)
    before = xr.open_zarr(out)["pm25"].values.copy()
    with pytest.raises(InvalidRequest, match="different reanalysis"):
        run_local(_spec(folder, res=0.5), out, progress=False)
    np.testing.assert_array_equal(xr.open_zarr(out)["pm25"].values, before)
    assert store_path(out) == out


def test_geotiff_export_is_georeferenced(folder: Path, tmp_path: Path) -> None:
    rasterio = pytest.importorskip("rasterio")
    spec = _spec(folder)
    ds = xr.open_zarr(run_local(spec, tmp_path / "g.zarr", progress=False))
    tif = write_geotiff(ds, "2020-03-01T05", tmp_path / "g.tif")
    with rasterio.open(tif) as src:
        assert src.crs.to_epsg() == 4326
        band = src.read(1)
        west, south, east, north = src.bounds
    assert (west, south, east, north) == pytest.approx(BBOX, abs=1e-6)
    # North-up raster: first row is the northernmost latitude.
    np.testing.assert_allclose(band, ds["pm25"].sel(time="2020-03-01T05").values[::-1], rtol=1e-6)
    with pytest.raises(InvalidRequest, match="No surface"):
        write_geotiff(ds, "2021-01-01T00", tmp_path / "x.tif")


def test_a_day_missing_from_the_archive_stays_nan(tmp_path: Path) -> None:
    gap = make_cnemc_folder(tmp_path / "gap", n_days=3, missing_day=1).path
    spec = ReanalysisSpec(model="idw", start="2020-03-01T00:00", end="2020-03-03T23:00", res=0.5, bbox=BBOX,
                          path=str(gap), block_hours=24)
    pm = xr.open_zarr(run_local(spec, tmp_path / "gap.zarr", progress=False))["pm25"].values
    assert np.isnan(pm[24:48]).all()
    assert np.isfinite(pm[:24]).all() and np.isfinite(pm[48:]).all()


def test_intervals_of_the_model_are_stored_as_pm25_lo_hi(folder: Path, tmp_path: Path) -> None:
    """knn ships a calibrated interval table: its bounds land in the store next to pm25, lo ≤ pm25 ≤ hi."""

    from core.engine.models import get_model
    probe = get_model("knn")
    spec = ReanalysisSpec(**(_spec(folder).__dict__ | {"model": "knn"}))
    item = plan(spec)[0]
    surf = run_item(spec, item)
    if "pm25_lo" not in surf:
        pytest.skip(f"{probe.name} is served without calibrated intervals here")
    ds = xr.open_zarr(run_local(spec, tmp_path / "iv.zarr", progress=False))
    assert {"pm25", "pm25_lo", "pm25_hi"} <= set(ds.data_vars)
    pm, lo, hi = (ds[v].values for v in ("pm25", "pm25_lo", "pm25_hi"))
    assert np.isfinite(lo).all() and (lo <= pm + 1e-4).all() and (pm <= hi + 1e-4).all()
    np.testing.assert_array_equal(hi[item.i0:item.i1], surf["pm25_hi"].values)
