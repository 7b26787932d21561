"""Play the 24 hourly surfaces of a day: one cached PNG per hour, swapped in a fragment (no inference per frame).

Only the fragment reruns on each tick, so the page's other parts (table, time series) stay as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import layers, loaders
from dashboard.uncertainty_layers import LEVEL, view_image

K_PLAY = "anim_play"
K_HOUR = "anim_hour"
FRAME_SECONDS = 1.0


def hourly_images(field: np.ndarray, lat: np.ndarray, view: str = "estimate", lo: np.ndarray | None = None,
                  hi: np.ndarray | None = None) -> list[str]:
    """PNG data-URIs of each hour of ``field`` ``(time, lat, lon)`` µg/m³ in ``view`` (uncertainty_layers.VIEWS;
    ``lo``/``hi`` the hourly 90 % bounds, same shape), pure."""
    field = np.asarray(field, float)
    los = [None] * len(field) if lo is None or hi is None else np.asarray(lo, float)
    his = [None] * len(field) if lo is None or hi is None else np.asarray(hi, float)
    return [layers.png_data_uri(view_image(view, f, lat, a, b)) for f, a, b in zip(field, los, his, strict=True)]


@st.cache_data(show_spinner=False, max_entries=16)
def _frames(dataset: str, date: str, model: str, masked: tuple[str, ...],
            view: str = "estimate") -> tuple[list[str], list[str]]:
    result = loaders.run_scenario(dataset, date, model, masked, True)
    grid = result.grid
    lat, lon = grid["lat"].values, grid["lon"].values
    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = (district != "")[None] if (district != "").any() else np.ones((1, *district.shape), bool)
    f = np.where(inside, grid["pm25"].values, np.nan)
    lo = np.where(inside, grid["pm25_lo"].values, np.nan) if "pm25_lo" in grid else None
    hi = np.where(inside, grid["pm25_hi"].values, np.nan) if "pm25_hi" in grid else None
    times = [pd.Timestamp(t).strftime("%H:00") for t in grid["time"].values]
    return hourly_images(f, lat, view, lo, hi), times


def day_player(scenario, info: dict, view: str = "estimate") -> None:
    """Hour slider + play/pause over the scenario's 24 hourly surfaces (a fragment ticking every second).

    ``view``: what the page's map shows (estimate, interval width, how sure); the frames show the same.
    """
    import pydeck as pdk

    frames, times = _frames(scenario.dataset, scenario.date, scenario.model, scenario.masked, view)
    if len(frames) < 2:
        st.info(f"{scenario.date} has {len(frames)} hour(s) of surface: nothing to animate.")
        return
    playing = st.toggle("Play", key=K_PLAY, help=f"Advance one hour every {FRAME_SECONDS:g} s (loops).")
    result = loaders.run_scenario(scenario.dataset, scenario.date, scenario.model, scenario.masked, True)
    bounds = layers.cell_bounds(result.grid["lat"].values, result.grid["lon"].values)
    below, above = loaders.context()

    @st.fragment(run_every=FRAME_SECONDS if playing else None)
    def _frame() -> None:
        cur = int(st.session_state.get(K_HOUR, 0)) % len(frames)
        if playing:
            st.session_state[K_HOUR] = (cur + 1) % len(frames)
        hour = st.slider("Hour (Beijing time)", 0, len(frames) - 1, key=K_HOUR, format="%d:00")
        surface = pdk.Layer("BitmapLayer", id="surface", image=pdk.types.String(frames[hour], quote_type=""),
                            bounds=bounds, pickable=False)
        st.pydeck_chart(layers.deck([*below, surface, *above], info["bbox"], height_px=460), key="anim_map",
                        height=460)
        shows = {"interval width": f"width of the {LEVEL} interval (µg/m³)",
                 "how sure": f"PM2.5, hatched where the {LEVEL} interval spans > 1 category"}.get(
            view, "PM2.5 µg/m³, HJ 633-2012 colours")
        st.caption(f"{scenario.model} · {scenario.date} {times[hour]} (hour {hour + 1} of {len(frames)}) · "
                   f"{shows}; the 24 surfaces come from one inference run.")

    _frame()
