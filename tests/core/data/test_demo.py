"""The cached demo StationSet: the simulator's own output, read back without simulating, rebuilt on any input change."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

import core.data.synthetic as synthetic
from core.data import demo
from core.data.cache import CacheWarning
from core.data.synthetic_obs import STATIONS_FILE


def test_demo_inputs_are_the_files_the_simulator_reads() -> None:
    cfg = synthetic.demo_config(0)
    assert demo.DEMO_INPUTS == (f"geo/{cfg.population}", f"raw/{cfg.stations}/{STATIONS_FILE}")
    for rel in demo.SIM_SOURCES:
        assert (demo.REPO_ROOT / rel).is_file(), rel


def test_cached_demo_equals_the_simulation_and_is_not_simulated_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRATLAS_CACHE", str(tmp_path / "cache"))
    first = demo.demo_stationset(0)
    fresh = synthetic.demo_stationset(seed=0)
    assert first.attrs.pop(demo.DIGEST_ATTR) == demo.demo_digest(0)
    xr.testing.assert_identical(first, fresh)  # incl. input_sha256, which the surface store keys on

    def no_simulation(seed: int = 0) -> xr.Dataset:
        raise AssertionError("the demo was simulated although its cache entry is valid")

    monkeypatch.setattr(synthetic, "demo_stationset", no_simulation)
    again = demo.demo_stationset(0)
    assert again.attrs.pop(demo.DIGEST_ATTR) == demo.demo_digest(0)
    xr.testing.assert_identical(again, fresh)
    assert again["time"].attrs["tz"] == "Asia/Shanghai"


def test_digest_follows_seed_and_input_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stations = tmp_path / "data" / demo.DEMO_INPUTS[1]
    stations.parent.mkdir(parents=True)
    monkeypatch.setenv("AIRATLAS_DATA", str(tmp_path / "data"))
    absent = demo.demo_digest(0)
    stations.write_text("code,name,city,lon,lat\n1001A,a,北京,116.4,39.9\n")
    present = demo.demo_digest(0)
    stations.write_text("code,name,city,lon,lat\n1001A,a,北京,116.5,39.9\n")
    edited = demo.demo_digest(0)
    assert len({absent, present, edited, demo.demo_digest(1)}) == 4
    assert demo.demo_digest(0) == edited  # same inputs, same key


def test_unreadable_entry_is_rebuilt_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("AIRATLAS_CACHE", str(cache))
    good = demo.demo_stationset(0)
    (entry,) = cache.glob("demo-*.nc")
    entry.write_bytes(entry.read_bytes()[:1000])  # truncated, as by a full disk
    with pytest.warns(CacheWarning, match="discarded and rebuilt"):
        rebuilt = demo.demo_stationset(0)
    xr.testing.assert_identical(rebuilt, good)
