"""The offline demo StationSet, simulated once and then read from the parsed-data cache.

Simulating the demo (:func:`core.data.synthetic.demo_stationset`) takes seconds and imports scipy.ndimage:
most of a dashboard's cold start on the demo. Its output is a function of the simulator's code, the seed,
the library versions and the two input files it reads from the data folder, so the cache key is a sha256
over all of them (a file that is absent counts as absent: the simulator then falls back to synthetic
stations or cities). Any change to one rebuilds the entry; an unreadable entry is rebuilt with a warning
(:func:`core.data.cache.cached_build`). This module imports no part of the simulator unless it builds.
"""

from __future__ import annotations

import hashlib

import numpy as np
import xarray as xr

from core.data.cache import cached_build
from core.errors import DataNotFound
from core.hashing import update_from_file
from core.paths import REPO_ROOT, data_dir

# What demo_stationset's config reads, relative to the data folder: SimConfig's population layer under
# geo/ and the station list of SimConfig.stations (tests/core/data/test_demo.py checks both against it).
DEMO_INPUTS = ("geo/pop_grid_0p1deg_bth/bth_pop_0p1deg_2005_2015.csv", "raw/cnemc_bth_2019/stations_region.csv")
# The simulator's code: its modules and the core modules whose output it returns.
SIM_SOURCES = ("core/data/synthetic.py", "core/data/synthetic_fields.py", "core/data/synthetic_obs.py",
               "core/data/synthetic_transport.py", "core/contracts/stationset.py", "core/contracts/kriger.py",
               "core/contracts/grid.py")
DIGEST_ATTR = "demo_sha256"  # the entry's key; input_sha256 stays the simulator's own (surface store keys)


def demo_digest(seed: int = 0) -> str:
    """sha256 over the demo's seed, library versions, simulator code and input files."""
    h = hashlib.sha256(f"seed={seed};numpy={np.__version__};xarray={xr.__version__}".encode())
    for rel in SIM_SOURCES:
        h.update(f"\0{rel}\0".encode())
        update_from_file(h, REPO_ROOT / rel)
    try:
        root = data_dir()
    except DataNotFound:
        root = None
    h.update(f"\0data={root}\0".encode())  # the entry records where its station list came from
    for rel in DEMO_INPUTS:
        path = None if root is None else root / rel
        present = path is not None and path.is_file()
        h.update(f"\0{rel}:{'present' if present else 'absent'}\0".encode())
        if present:
            update_from_file(h, path)
    return h.hexdigest()


def demo_stationset(seed: int = 0) -> xr.Dataset:
    """:func:`core.data.synthetic.demo_stationset`, from the cache when its inputs are unchanged."""

    def build() -> xr.Dataset:
        from core.data.synthetic import demo_stationset as simulate_demo

        return simulate_demo(seed=seed)

    return cached_build("demo", demo_digest(seed), build, digest_attr=DIGEST_ATTR)
