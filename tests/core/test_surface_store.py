"""The on-disk surface store: computed once through infer, read back identical, keyed by everything that matters."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import Window
from core.engine.infer import infer
from core.engine.models import get_model
from core.surface_store import SurfaceStore, model_fingerprint, stations_fingerprint, stored_infer, surface_key
from tests.factories import tiny_stationset


@pytest.fixture
def stations() -> xr.Dataset:
    rng = np.random.default_rng(0)
    lat = rng.uniform(38.0, 40.0, 12)
    lon = rng.uniform(115.0, 117.5, 12)
    pm = 40 + 30 * np.sin(np.arange(48) / 6)[:, None] + 10 * lat[None, :] - 380 + rng.normal(0, 3, (48, 12))
    return tiny_stationset(pm, lat, lon, city="保定")


@pytest.fixture
def grid() -> GridSpec:
    return GridSpec.from_bbox((115.0, 38.0, 117.5, 40.0), res=0.25)


@pytest.fixture
def window(stations) -> Window:
    return Window.of(stations["time"].values[24], stations["time"].values[-1])


@pytest.mark.parametrize("name", ["idw", "linear"])
def test_second_call_reads_back_what_infer_computed(tmp_path, stations, grid, window, name):
    model = get_model(name)
    obs = np.ones(12, bool)
    obs[[2, 7]] = False
    store = SurfaceStore(tmp_path)
    first, hit1 = stored_infer(model, stations, obs, grid, window, store=store)
    second, hit2 = stored_infer(model, stations, obs, grid, window, store=store)
    assert (hit1, hit2) == (False, True)
    direct = infer(model, stations, obs, grid=grid, window=window)
    for var in direct.grid.data_vars:  # pm25 and, when the model is calibrated, pm25_lo / pm25_hi
        np.testing.assert_allclose(second.grid[var].values, direct.grid[var].values, rtol=1e-6)
        assert second.grid[var].attrs == direct.grid[var].attrs
    np.testing.assert_array_equal(second.grid["time"].values, direct.grid["time"].values)
    np.testing.assert_allclose(second.station_pred.values, direct.station_pred.values, rtol=1e-6)
    assert list(second.station_pred["station"].values) == list(direct.station_pred["station"].values)
    for bound in ("station_lo", "station_hi"):
        want = getattr(direct, bound)
        assert (getattr(second, bound) is None) == (want is None)
        if want is not None:
            np.testing.assert_allclose(getattr(second, bound).values, want.values, rtol=1e-6)
    assert (second.model, second.wind) == (direct.model, direct.wind)
    assert second.extras.get("interval") == direct.extras.get("interval")


def test_key_changes_with_hidden_set_window_grid_data_and_model(stations, grid, window):
    idw, lin = get_model("idw"), get_model("linear")
    fp = stations_fingerprint(stations)
    obs = np.ones(12, bool)
    base = surface_key(fp, model_fingerprint(idw), obs, grid, window)
    hidden = obs.copy()
    hidden[0] = False
    changed = stations.copy(deep=True)
    changed["pm25"].values[30, 3] += 1.0
    shorter = Window.of(window.start, window.end - np.timedelta64(1, "h"))
    variants = [
        surface_key(fp, model_fingerprint(idw), hidden, grid, window),
        surface_key(fp, model_fingerprint(idw), obs, GridSpec.from_bbox((115.0, 38.0, 117.5, 40.0), res=0.5), window),
        surface_key(fp, model_fingerprint(idw), obs, None, window),
        surface_key(fp, model_fingerprint(idw), obs, grid, shorter),
        surface_key(stations_fingerprint(changed), model_fingerprint(idw), obs, grid, window),
        surface_key(fp, model_fingerprint(lin), obs, grid, window),
    ]
    assert len({base, *variants}) == len(variants) + 1
    assert base == surface_key(stations_fingerprint(stations.copy(deep=True)), model_fingerprint(get_model("idw")),
                               obs.copy(), grid, window)


def test_a_damaged_folder_is_recomputed_not_served(tmp_path, stations, grid, window):
    model = get_model("idw")
    obs = np.ones(12, bool)
    store = SurfaceStore(tmp_path)
    key = surface_key(stations_fingerprint(stations), model_fingerprint(model), obs, grid, window)
    store.path(key).mkdir(parents=True)  # e.g. a folder emptied by hand or a full disk
    assert store.load(key) is None and key not in store
    result, hit = stored_infer(model, stations, obs, grid, window, store=store)
    assert not hit and result.grid is not None and key in store
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind


@pytest.mark.parametrize("gone", ["pm25", "station_hi", "lon"])
def test_a_half_deleted_folder_is_recomputed_not_served(tmp_path, stations, grid, window, gone):
    """A folder missing part of its arrays (an interrupted delete) opens without error: load must not serve it."""
    import shutil

    model, obs, store = get_model("idw"), np.ones(12, bool), SurfaceStore(tmp_path)
    first, _ = stored_infer(model, stations, obs, grid, window, store=store)
    key = surface_key(stations_fingerprint(stations), model_fingerprint(model), obs, grid, window)
    shutil.rmtree(store.path(key) / gone)
    assert store.load(key) is None and key not in store
    again, hit = stored_infer(model, stations, obs, grid, window, store=store)
    assert not hit and key in store
    xr.testing.assert_identical(again.grid, first.grid)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left behind


def test_discard_renames_the_folder_away_before_deleting(tmp_path, stations, grid, window, monkeypatch):
    """While a surface is being deleted its key is already absent (readers never open part of it)."""
    import core.surface_store as ss

    model, obs, store = get_model("idw"), np.ones(12, bool), SurfaceStore(tmp_path)
    stored_infer(model, stations, obs, grid, window, store=store)
    key = surface_key(stations_fingerprint(stations), model_fingerprint(model), obs, grid, window)
    seen = []
    monkeypatch.setattr(ss.shutil, "rmtree", lambda d, **kw: seen.append((d.name, key in store)))
    ss._discard(store.path(key))
    assert seen and seen[0][1] is False and seen[0][0] != store.path(key).name
    ss._discard(store.path(key))  # already gone: nothing to do, no error


@pytest.mark.parametrize("then", ["discarded", "replaced"])
def test_a_folder_moved_while_read_is_not_served(tmp_path, stations, grid, window, monkeypatch, then):
    """Another thread discards (or re-stores) the folder after this reader listed its arrays: the chunks it reads
    next are gone, which zarr fills with NaN. The reader must give None (recompute), never that surface."""
    import core.surface_store as ss

    model, obs, store = get_model("idw"), np.ones(12, bool), SurfaceStore(tmp_path)
    first, _ = stored_infer(model, stations, obs, grid, window, store=store)
    key = surface_key(stations_fingerprint(stations), model_fingerprint(model), obs, grid, window)
    opened = ss.xr.open_zarr

    def open_then_move(path, **kw):
        ds = opened(path, **kw)  # lazy: the arrays are listed, no chunk is read yet
        if kw.get("group") is None and store.path(key).exists():
            ss._discard(store.path(key))
            if then == "replaced":
                store.save(key, first)
        return ds

    monkeypatch.setattr(ss.xr, "open_zarr", open_then_move)
    assert store.load(key) is None
    monkeypatch.setattr(ss.xr, "open_zarr", opened)
    assert (key in store) == (then == "replaced")  # a newer folder under the key is kept, not discarded
    again, _ = stored_infer(model, stations, obs, grid, window, store=store)
    xr.testing.assert_identical(again.grid, first.grid)


def test_store_keeps_to_its_cap_evicting_the_least_recently_used(tmp_path, stations, grid, window, monkeypatch):
    import os
    import time

    result = infer(get_model("idw"), stations, np.ones(12, bool), grid=grid, window=window)
    one = SurfaceStore(tmp_path / "probe", max_mb=1e6)
    one.save("probe", result)
    size_mb = one.entries()[0][2] / 1e6
    store = SurfaceStore(tmp_path / "s", max_mb=size_mb * 2.5)  # room for two surfaces, not three
    for i, key in enumerate(("a", "b")):
        store.save(key, result)
        os.utime(store.path(key), (time.time() - 100 + i, time.time() - 100 + i))  # a older than b
    assert store.load("a") is not None  # reading a makes b the least recently used
    store.save("c", result)
    assert "a" in store and "c" in store and "b" not in store
    assert sum(e[2] for e in store.entries()) <= store.max_mb * 1e6
    monkeypatch.setenv("AIRATLAS_SURFACE_STORE_MB", "12.5")
    assert SurfaceStore(tmp_path / "env").max_mb == 12.5
