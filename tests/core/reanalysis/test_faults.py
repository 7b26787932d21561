"""Fault test of `reanalyze`: kill -9 at random points (1 and 2 Dask workers), deleted and corrupted
chunks, a deleted store with its markers kept, foreign or damaged outputs. Every rerun either ends in
exactly the array an uninterrupted run gives, or refuses with a clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import core.reanalysis.workflow as wf
from core.errors import InvalidRequest
from core.paths import REPO_ROOT
from core.reanalysis.markers import marker_dir
from core.reanalysis.work import ReanalysisSpec, plan
from core.reanalysis.workflow import run_local
from tests.core.reanalysis.conftest import BBOX, small_spec

VARS = ("pm25",)


def _spec(folder: Path) -> ReanalysisSpec:
    # 12 blocks × 4 tiles = 48 items: enough for a kill to land between items.
    return small_spec(folder, block_hours=4, tile_deg=2.0)


@pytest.fixture(scope="module")
def reference(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    out = run_local(_spec(folder), tmp_path_factory.mktemp("ref") / "ref.zarr", progress=False)
    return xr.open_zarr(out)["pm25"].values


def _values(out: Path) -> np.ndarray:
    ds = xr.open_zarr(out) if out.suffix == ".zarr" else xr.open_dataset(out)
    with ds:
        return ds["pm25"].values


def _cli(folder: Path, out: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "core", "reanalyze", "--start", "2020-03-01", "--end", "2020-03-02",
            "--res", "0.25", "--bbox", ",".join(map(str, BBOX)), "--path", str(folder), "--model", "idw",
            "--block-hours", "4", "--tile-deg", "2.0", "--workers", str(workers), "--out", str(out)]


@pytest.mark.parametrize(("workers", "seed"), [(1, 11), (2, 12)])
def test_kill_9_at_a_random_point_then_rerun_gives_the_same_bytes(
    folder: Path, tmp_path: Path, reference: np.ndarray, workers: int, seed: int
) -> None:
    """The whole process group (client and Dask workers) is SIGKILLed after a random number of items."""
    rng = np.random.default_rng(seed)
    n_items = len(plan(_spec(folder)))
    kill_after = int(rng.integers(1, n_items // 2))
    out = tmp_path / "k.zarr"
    proc = subprocess.Popen(_cli(folder, out, workers), cwd=REPO_ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONPATH": str(REPO_ROOT)})
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(marker_dir(out).glob("*.done"))) >= kill_after:
                break
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0, 0.1)))  # land anywhere inside the next item(s)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done = len(list(marker_dir(out).glob("*.done")))
    assert proc.returncode == -9 and 0 < done < n_items, (proc.returncode, done, proc.stderr.read()[-2000:])
    info: dict = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert 0 < info["items_computed"] <= n_items - kill_after + workers
    np.testing.assert_array_equal(_values(out), reference)


def test_deleted_chunk_is_detected_and_recomputed(folder: Path, tmp_path: Path, reference: np.ndarray) -> None:
    out = run_local(_spec(folder), tmp_path / "d.zarr", progress=False)
    chunk = out / "pm25" / "3.1.0"  # time block 3, tile row 1, tile col 0
    assert chunk.is_file()
    chunk.unlink()
    info: dict = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert info["items_computed"] == 1
    np.testing.assert_array_equal(_values(out), reference)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_chunk_is_detected_and_recomputed(
    folder: Path, tmp_path: Path, reference: np.ndarray, damage: str
) -> None:
    out = run_local(_spec(folder), tmp_path / "c.zarr", progress=False)
    chunk = out / "pm25" / "5.0.1"
    raw = bytearray(chunk.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw = bytearray(b"not a chunk at all")
    chunk.write_bytes(bytes(raw))
    info: dict = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert info["items_computed"] == 1
    np.testing.assert_array_equal(_values(out), reference)


def test_store_deleted_markers_kept_recomputes_everything(
    folder: Path, tmp_path: Path, reference: np.ndarray
) -> None:
    import shutil

    out = run_local(_spec(folder), tmp_path / "s.zarr", progress=False)
    shutil.rmtree(out)
    assert any(marker_dir(out).glob("*.done"))
    info: dict = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert info["items_computed"] == info["items"] == len(plan(_spec(folder)))
    np.testing.assert_array_equal(_values(out), reference)


def test_markers_of_an_older_store_at_the_same_path_are_not_trusted(
    folder: Path, tmp_path: Path, reference: np.ndarray
) -> None:
    """Store replaced by a fresh one of the same run (new store id): the old markers count for nothing."""
    import shutil

    out = run_local(_spec(folder), tmp_path / "o.zarr", progress=False)
    old = tmp_path / "old.work"
    shutil.copytree(marker_dir(out), old)
    shutil.rmtree(out)
    run_local(_spec(folder), out, progress=False)
    shutil.rmtree(marker_dir(out))
    shutil.copytree(old, marker_dir(out))  # markers of the first store, content hashes still equal
    info: dict = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert info["items_computed"] == len(plan(_spec(folder)))
    np.testing.assert_array_equal(_values(out), reference)


def test_complete_zarr_rerun_does_nothing(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_local(_spec(folder), tmp_path / "n.zarr", progress=False)
    monkeypatch.setattr(wf, "run_item", lambda *a: pytest.fail("a complete store must not be recomputed"))
    info: dict = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert info["items_computed"] == 0


@pytest.mark.parametrize("content", [b"hello world\n", b""])
def test_foreign_nc_file_is_refused_and_kept(folder: Path, tmp_path: Path, content: bytes) -> None:
    out = tmp_path / "x.nc"
    out.write_bytes(content)
    with pytest.raises(InvalidRequest, match="not a readable NetCDF made by reanalyze"):
        run_local(_spec(folder), out, progress=False)
    assert out.read_bytes() == content


def test_nc_of_another_run_is_refused_and_kept(folder: Path, tmp_path: Path) -> None:
    out = run_local(small_spec(folder, res=0.5), tmp_path / "y.nc", progress=False)
    before = out.read_bytes()
    with pytest.raises(InvalidRequest, match="different reanalysis"):
        run_local(_spec(folder), out, progress=False)
    assert out.read_bytes() == before


def test_nc_rerun_is_complete_only_when_intact(
    folder: Path, tmp_path: Path, reference: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = run_local(_spec(folder), tmp_path / "z.nc", progress=False)
    np.testing.assert_array_equal(_values(out), reference)
    assert not wf.store_path(out).exists() and not marker_dir(out).exists()
    info: dict = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert info == {"complete": True, "items_computed": 0}
    # Damage the data but keep the attributes: ours, yet no longer intact → rebuilt.
    import netCDF4

    with netCDF4.Dataset(out, "a") as nc:
        nc["pm25"][5, 3, 3] = 999.0
    info = {}
    run_local(_spec(folder), out, progress=False, info=info)
    assert info["items_computed"] == len(plan(_spec(folder)))
    np.testing.assert_array_equal(_values(out), reference)


def test_period_outside_the_data_is_refused_before_any_store(folder: Path, tmp_path: Path) -> None:
    spec = ReanalysisSpec(model="idw", start="2021-06-01T00:00", end="2021-06-02T23:00", res=0.25, bbox=BBOX,
                          path=str(folder))
    out = tmp_path / "far.zarr"
    with pytest.raises(InvalidRequest, match="No PM2.5 observation between .* the data covers 2020-03-01"):
        run_local(spec, out, progress=False)
    assert not out.exists()


def test_unreadable_store_is_refused_not_deleted(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.zarr"
    out.mkdir()
    (out / "notes.txt").write_text("my own notes")
    with pytest.raises(InvalidRequest, match="not a readable Zarr store"):
        run_local(_spec(folder), out, progress=False)
    assert (out / "notes.txt").read_text() == "my own notes"
