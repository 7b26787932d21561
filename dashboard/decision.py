"""Cached helpers of the decision views (hotspots, uncertainty, siting, compare), wrapping core.

Kept apart from loaders.py so the decision pages add no weight to the other pages' imports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import loaders


def compare_model_b_options(model_a: str) -> list[str]:
    """The Compare page's choices of model B, its default first: the other models, fast baselines first (so the
    page opens quickly). The one home of that default: the warm-up (dashboard.prefetch) computes the same B."""
    models = loaders.model_names()
    others = [m for m in models if m != model_a] or models
    return sorted(others, key=lambda m: m not in loaders.CLASSICAL)


@st.cache_data(show_spinner=False)
def cell_people(lat: tuple[float, ...], lon: tuple[float, ...]) -> np.ndarray | None:
    """Persons living in each cell ``(lat, lon)`` of a surface grid (0.1° grid 2015); None without the layer."""
    from core.data.population import grid_population, load_population_grid
    from core.errors import AirAtlasError

    try:
        pop = load_population_grid()
    except AirAtlasError:
        return None
    return grid_population(np.asarray(lat), np.asarray(lon), pop)


def shown_interval(grid, hour: int | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The grid's 90 % interval ``(lat, lon)`` for the hour (or the daily mean of each bound), or (None, None)."""
    if grid is None or "pm25_lo" not in grid or "pm25_hi" not in grid:
        return None, None
    sel = grid if hour is None else grid.isel(time=hour)
    lo = sel["pm25_lo"].mean("time") if hour is None else sel["pm25_lo"]
    hi = sel["pm25_hi"].mean("time") if hour is None else sel["pm25_hi"]
    return lo.values, hi.values


def station_interval(result, hour: int | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-station 90 % interval for the hour (or the daily mean of each bound), or (None, None)."""
    if result.station_lo is None or result.station_hi is None:
        return None, None
    pick = (lambda da: da.mean("time").values) if hour is None else (lambda da: da.isel(time=hour).values)
    return pick(result.station_lo), pick(result.station_hi)


@st.cache_data(show_spinner=False, max_entries=32)
def sites(dataset: str, date: str, model: str, masked: tuple[str, ...], n: int, spacing_km: float,
          use_interval: bool = False) -> tuple[pd.DataFrame, str]:
    """New-monitor sites on the scenario's surface (core.siting.score.rank_sites): (table, uncertainty kind).

    ``use_interval`` False (default, as the CLI's ``--uncertainty distance``): rank by distance to the nearest
    monitor × people, the choice validated on validation days (MAE ratio 0.937 vs 0.997 for interval width).
    """
    from core.data.population import load_population_grid
    from core.siting.score import rank_sites

    result = loaders.run_scenario(dataset, date, model, masked, True)
    if result.grid is None:
        from core.errors import UnusableData

        raise UnusableData(f"Model '{model}' returned no grid surface; choose another model for siting.")
    grid = result.grid
    sl = loaders.window_slice(dataset, date)
    truth = loaders.truth_of(dataset, date)
    obs = loaders.observed_mask(sl, masked) & np.isfinite(truth.values).any(axis=0)
    lat, lon = grid["lat"].values, grid["lon"].values
    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    return rank_sites(grid, sl["lat"].values[obs], sl["lon"].values[obs], load_population_grid(), n,
                      district=district if (district != "").any() else None, min_spacing_km=spacing_km,
                      use_interval=use_interval)


@st.cache_data(show_spinner=False)
def place_index(dataset: str) -> pd.DataFrame:
    """Searchable districts, cities and stations of ``dataset`` (dashboard.search.build_index)."""
    from dashboard.search import build_index

    geo = loaders.geo_layers()
    ds = loaders.load_dataset(dataset)
    stations = pd.DataFrame({"code": ds["station"].values.astype(str), "name": ds["name"].values.astype(str),
                             "city": ds["city"].values.astype(str), "lat": ds["lat"].values, "lon": ds["lon"].values})
    return build_index(geo.get("district"), geo.get("places"), stations)
