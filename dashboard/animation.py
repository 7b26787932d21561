"""Play the 24 hourly surfaces of a day: one cached PNG per hour, swapped in a fragment (no inference per frame).

Only the fragment reruns on each tick, so the page's other parts (table, time series) stay as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import layers, loaders

K_PLAY = "anim_play"
K_HOUR = "anim_hour"
FRAME_SECONDS = 1.0


def hourly_images(field: np.ndarray, lat: np.ndarray) -> list[str]:
    """PNG data-URIs of each hour of ``field`` ``(time, lat, lon)`` µg/m³ in HJ 633 colours (pure)."""
    return [layers.png_data_uri(layers.surface_rgba(f, lat, 170)) for f in np.asarray(field, float)]


@st.cache_data(show_spinner=False, max_entries=16)
def _frames(dataset: str, date: str, model: str, masked: tuple[str, ...]) -> tuple[list[str], list[str]]:
    result = loaders.run_scenario(dataset, date, model, masked, True)
    grid = result.grid
    lat, lon = grid["lat"].values, grid["lon"].values
    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    f = grid["pm25"].values
    if (district != "").any():
        f = np.where((district != "")[None], f, np.nan)
    times = [pd.Timestamp(t).strftime("%H:00") for t in grid["time"].values]
    return hourly_images(f, lat), times


def day_player(scenario, info: dict) -> None:
    """Hour slider + play/pause over the scenario's 24 hourly surfaces (a fragment ticking every second)."""
    import pydeck as pdk

    frames, times = _frames(scenario.dataset, scenario.date, scenario.model, scenario.masked)
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
        st.caption(f"{scenario.model} · {scenario.date} {times[hour]} (hour {hour + 1} of {len(frames)}) · "
                   "PM2.5 µg/m³, HJ 633-2012 colours; the 24 surfaces come from one inference run.")

    _frame()
