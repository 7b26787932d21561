"""Cache of parsed StationSets, keyed by the sha256 of every input file.

A changed input file changes the key, so a stale cache is never read. Files are
NetCDF (netCDF4); writes go to a temporary name first and are renamed, so a
killed process never leaves a half-written cache entry.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import xarray as xr

from core.hashing import update_from_file
from core.paths import cache_dir

CACHE_VERSION = "2"  # bump when a loader's output or the entry format changes for the same inputs


class CacheWarning(UserWarning):
    """A cache entry could not be read and was rebuilt from the input files."""


def sha256_files(files: Iterable[Path], root: Path) -> str:
    """One digest over (relative path, content) of ``files``, order-independent."""
    h = hashlib.sha256()
    for f in sorted(Path(p) for p in files):
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        update_from_file(h, f)
        h.update(b"\0")
    return h.hexdigest()


def cached_load(source: str, root: Path, files: list[Path], parse: Callable[[], xr.Dataset]) -> xr.Dataset:
    """Return the cached StationSet for these inputs, or ``parse()`` and cache it."""
    return cached_build(source, sha256_files(files, root), parse)


def cached_build(source: str, digest: str, build: Callable[[], xr.Dataset],
                 digest_attr: str = "input_sha256") -> xr.Dataset:
    """The cached StationSet whose inputs hash to ``digest``, or ``build()`` and cache it.

    The entry records ``digest`` in its attribute ``digest_attr`` and is read only when it matches. A
    builder that sets ``input_sha256`` itself (the simulator: a digest of its config and input files,
    which the surface store keys on) names another attribute, so the cached copy equals a fresh build.
    """
    key = hashlib.sha256(f"{source}:{CACHE_VERSION}:{digest}".encode()).hexdigest()[:32]
    path = cache_dir() / f"{source}-{key}.nc"
    if path.exists():
        try:
            with xr.open_dataset(path, engine="netcdf4") as ds:
                out = ds.load()
            if out.attrs.get(digest_attr) != digest:
                raise ValueError(f"entry does not record the sha256 of these inputs ({digest_attr})")
            out["time"].attrs["tz"] = "Asia/Shanghai"
            return out
        # netCDF4 reports flipped bytes as RuntimeError ("NetCDF: HDF error"), a truncated file as
        # OSError, a wrong layout as ValueError/KeyError: any of them means "rebuild", never a crash.
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            warnings.warn(f"parsed-data cache entry {path} is unreadable ({type(err).__name__}: {err}); "
                          "discarded and rebuilt from the input files", CacheWarning, stacklevel=2)
            path.unlink(missing_ok=True)
    ds = build()
    ds.attrs[digest_attr] = digest
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    # fletcher32: a flipped byte inside a data chunk fails its checksum on read instead of giving other numbers.
    # No zlib: a warm load is decompression-bound (national year, 360 MB: 3-5 s inflating vs ~1 s raw) and
    # disk is cheap next to a user waiting at every start.
    enc = {v: {"zlib": False, "fletcher32": True} for v in ds.data_vars}
    ds.to_netcdf(tmp, engine="netcdf4", encoding=enc)
    os.replace(tmp, path)
    return ds
