"""dashboard.loaders helpers that need no Streamlit session."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from core.errors import InvalidRequest
from dashboard.loaders import _on_one_grid


def _day(lat: np.ndarray, lon: np.ndarray, day: str, value: float) -> xr.Dataset:
    time = np.arange(np.datetime64(f"{day}T00"), np.datetime64(f"{day}T00") + np.timedelta64(24, "h"),
                     np.timedelta64(1, "h"))
    pm = np.full((24, lat.size, lon.size), value, dtype="float32")
    return xr.Dataset({"pm25": (("time", "lat", "lon"), pm)}, coords={"time": time, "lat": lat, "lon": lon})


@pytest.fixture
def lat_lon() -> tuple[np.ndarray, np.ndarray]:
    return np.arange(36.025, 37.0, 0.05), np.arange(113.425, 114.0, 0.05)


@pytest.mark.parametrize("noise", [0.0, 1e-12, 5e-7])
def test_days_with_float_noise_in_cell_centres_stay_one_grid(lat_lon, noise):
    lat, lon = lat_lon
    parts = _on_one_grid([_day(lat, lon, "2019-01-01", 10.0), _day(lat + noise, lon - noise, "2019-01-02", 20.0)])
    pm = xr.concat([g["pm25"] for g in parts], dim="time", join="exact")
    # an outer join on noisy labels would double the cells and fill half of them with NaN
    assert pm.shape == (48, lat.size, lon.size)
    assert np.isfinite(pm.values).all()


@pytest.mark.parametrize("shift", ["offset", "shape"])
def test_days_on_different_grids_are_an_error(lat_lon, shift):
    lat, lon = lat_lon
    other = lat + 0.025 if shift == "offset" else lat[:-1]
    with pytest.raises(InvalidRequest, match="different grids"):
        _on_one_grid([_day(lat, lon, "2019-01-01", 10.0), _day(other, lon, "2019-01-02", 20.0)])


def test_display_outlines_are_simplified_once_then_read_from_disk(tmp_path, monkeypatch):
    import dashboard.loaders as ld

    monkeypatch.setenv("AIRATLAS_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "squares.geojson"
    ring = [[116.0, 39.0], [116.5, 39.0], [116.5, 39.5], [116.0, 39.5], [116.0, 39.0]]
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "a"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    first = ld._display_geojson(src)
    assert first is not None and first["features"][0]["properties"]["name"] == "a"
    import geopandas as gpd

    calls = []
    real = gpd.read_file
    monkeypatch.setattr(gpd, "read_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert ld._display_geojson(src) == first and calls == []  # read back, not simplified again
    ld._display_geojson(src, tolerance=0.05)
    src.write_text(src.read_text().replace('"a"', '"b"'))
    assert ld._display_geojson(src)["features"][0]["properties"]["name"] == "b"  # an edited file is read again
    assert len(calls) == 2
    assert ld._display_geojson(tmp_path / "missing.geojson") is None  # a missing layer only removes that layer
    src.write_text("not json")
    assert ld._display_geojson(src) is None


@pytest.mark.parametrize(("what", "want"), [("attention", {"aqnet"}), ("influence", {"spin", "aqnet"})])
def test_pages_find_explaining_models_from_their_specs(what, want):
    """The attention page asks each learned model's spec what it explains (no hard-coded model names); classical
    models and ignnk explain neither; the best model on validation days comes first."""
    from core.contracts import registry
    from core.evaluation.selection import ranking_on_validation
    from core.paths import METRICS_DIR
    from dashboard import loaders

    models = registry.available()
    got = loaders.explaining(models, what)
    assert set(got) == {m for m in want if loaders.has_checkpoint(m)}
    assert all(what in registry.get_spec(m).explains for m in got)
    rank = ranking_on_validation(METRICS_DIR)
    assert got == sorted(got, key=lambda m: rank.index(m) if m in rank else len(rank))
    assert loaders.attention_model(models) == (next(iter(loaders.explaining(models, "attention")), None))
    assert loaders.explaining(["idw", "ok", "ignnk"], what) == []
