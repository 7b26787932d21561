"""sha256-keyed StationSet cache: hits, invalidation on any input change, rebuild of a broken entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from core.contracts.stationset import load_warnings
from core.data.cache import cached_load, sha256_files
from core.data.cnemc import input_files, load_cnemc, parse_folder
from tests.data.make_data import make_cnemc_folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("AIRATLAS_CACHE", str(d))
    return d


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    make_cnemc_folder(tmp_path / "cnemc", n_days=2, dead_stations=("1099A",), extra_codes=("2172A",))
    return tmp_path / "cnemc"


class CountingParse:
    """``parse`` callable that counts its calls."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.calls = folder, 0

    def __call__(self) -> xr.Dataset:
        self.calls += 1
        return parse_folder(self.folder)


def test_second_load_is_a_cache_hit_with_identical_content(folder: Path, cache: Path) -> None:
    parse = CountingParse(folder)
    a = cached_load("t", folder, input_files(folder), parse)
    b = cached_load("t", folder, input_files(folder), parse)
    assert parse.calls == 1 and len(list(cache.glob("t-*.nc"))) == 1
    xr.testing.assert_identical(a, b)
    assert b["time"].attrs["tz"] == "Asia/Shanghai" and b["qc_pm25"].dtype == np.uint8
    assert b["is_bth"].dtype == bool and b["present"].dtype == bool
    assert load_warnings(a) == load_warnings(b) and len(load_warnings(b)) == 2
    assert len(a.attrs["input_sha256"]) == 64


@pytest.mark.parametrize("change", ["edit_day", "edit_stations", "add_day", "rename_day"])
def test_any_input_change_invalidates(folder: Path, cache: Path, change: str) -> None:
    parse = CountingParse(folder)
    before = cached_load("t", folder, input_files(folder), parse)
    day = sorted((folder / "hourly").iterdir())[0]
    if change == "edit_day":
        make_cnemc_folder(folder, n_days=2, spike=(0, 0, "1001A", 777.0), dead_stations=("1099A",),
                          extra_codes=("2172A",))
    elif change == "edit_stations":
        st = folder / "stations_region.csv"
        st.write_text(st.read_text(encoding="utf-8").replace("116.366", "116.4"), encoding="utf-8")
    elif change == "add_day":
        (folder / "hourly" / "china_sites_20200303.csv.gz").write_bytes(day.read_bytes())
    else:
        day.rename(day.with_name("china_sites_20200229.csv.gz"))
    after = cached_load("t", folder, input_files(folder), parse)
    assert parse.calls == 2 and after.attrs["input_sha256"] != before.attrs["input_sha256"]
    if change == "edit_day":
        assert float(after["pm25"].sel(station="1001A").isel(time=0)) == 777.0
    if change == "edit_stations":
        assert float(after["lon"].sel(station="1001A")) == pytest.approx(116.4)


def _flip(data: bytes, start: float, n: int = 2000) -> bytes:
    b = bytearray(data)
    i0 = int(len(b) * start)
    for i in range(i0, min(len(b), i0 + n)):
        b[i] ^= 0xFF
    return bytes(b)


# How a cache entry gets damaged: each must be discarded and rebuilt with a warning, never crash.
DAMAGE = {
    "not_netcdf": lambda b: b"not a netcdf file",
    "empty": lambda b: b"",
    "truncated": lambda b: b[: len(b) // 2],
    "flipped_bytes_middle": lambda b: _flip(b, 1 / 3),  # RuntimeError: NetCDF: HDF error before the fix
    "flipped_bytes_late": lambda b: _flip(b, 0.7),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_unreadable_cache_entry_is_rebuilt_with_a_warning(folder: Path, cache: Path, damage: str) -> None:
    from core.data.cache import CacheWarning

    parse = CountingParse(folder)
    first = cached_load("t", folder, input_files(folder), parse)
    (entry,) = cache.glob("t-*.nc")
    entry.write_bytes(DAMAGE[damage](entry.read_bytes()))
    with pytest.warns(CacheWarning, match="discarded and rebuilt"):
        again = cached_load("t", folder, input_files(folder), parse)
    assert parse.calls == 2
    xr.testing.assert_identical(first, again)
    reread = cached_load("t", folder, input_files(folder), parse)  # the rebuilt entry is good again
    assert parse.calls == 2 and reread.sizes == again.sizes


@pytest.mark.parametrize("where", [0.02, 0.1, 0.2, 0.45, 0.6, 0.8, 0.95])
def test_flipped_bytes_anywhere_never_give_other_data(folder: Path, cache: Path, where: float) -> None:
    """A flip either lands in unused bytes (same data back) or is detected (rebuilt with a warning)."""
    import warnings

    from core.data.cache import CacheWarning

    parse = CountingParse(folder)
    first = cached_load("t", folder, input_files(folder), parse)
    (entry,) = cache.glob("t-*.nc")
    entry.write_bytes(_flip(entry.read_bytes(), where, n=500))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = cached_load("t", folder, input_files(folder), parse)
    xr.testing.assert_identical(first, again)
    assert (parse.calls == 2) == any(issubclass(w.category, CacheWarning) for w in caught)


def test_digest_is_order_independent_and_content_sensitive(folder: Path) -> None:
    files = input_files(folder)
    assert sha256_files(files, folder) == sha256_files(list(reversed(files)), folder)
    assert sha256_files(files[:-1], folder) != sha256_files(files, folder)


def test_loader_uses_the_cache_and_sees_changes(folder: Path, cache: Path) -> None:
    a = load_cnemc(folder)
    b = load_cnemc(folder)
    xr.testing.assert_identical(a, b)
    assert len(list(cache.glob("cnemc-*.nc"))) == 1
    make_cnemc_folder(folder, n_days=2, spike=(1, 5, "1015A", 1300.0), dead_stations=("1099A",),
                      extra_codes=("2172A",))
    c = load_cnemc(folder)
    assert float(c["pm25"].sel(station="1015A").isel(time=29)) == 1300.0
    assert len(list(cache.glob("cnemc-*.nc"))) == 2
