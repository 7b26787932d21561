"""Compare: two models or two dates side by side (one shared view) or as a swipe, the difference map, scores at
the stations measured in both."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard import decision, layers, loaders, names, scoring
from dashboard.compare_layers import diff_legend_html, diff_rgba, shared_stations, shared_view, swipe_layers
from dashboard.ui import guard, page_context, require_day, source_caption
from dashboard.uncertainty_control import legend, shown_view, view_control
from dashboard.uncertainty_layers import TOOLTIP, image_layer, interval_text, probe_layer, view_image, view_layer

ctx = page_context("Compare")
sc, info = ctx.scenario, ctx.info
when = "daily mean" if sc.hour is None else f"{sc.hour:02d}:00"

mode = st.radio("Compare", ["two models", "two dates"], horizontal=True, key="cmp_mode")
if mode == "two models":
    model_b = st.selectbox("Model B", decision.compare_model_b_options(sc.model), key="cmp_model")
    date_b = sc.date
else:
    model_b = sc.model
    lo_d, hi_d = dt.date.fromisoformat(info["start"]), dt.date.fromisoformat(info["end"])
    default_b = max(lo_d, dt.date.fromisoformat(sc.date) - dt.timedelta(days=1))
    date_b = st.date_input("Date B", value=default_b, min_value=lo_d, max_value=hi_d, key="cmp_date").isoformat()
view = view_control("cmp_view", horizontal=True)
label_a = f"A: {sc.model}, {sc.date} {when}"
label_b = f"B: {model_b}, {date_b} {when}"
# A day without data, or an hour without any report, stops here with a message; a partial day's mean averages
# only the hours with data (the others are pure extrapolation), as on Hotspots.
hours_a = require_day(sc.dataset, sc.date, sc.hour, what="A" if date_b != sc.date else "")
hours_b = hours_a if date_b == sc.date else require_day(sc.dataset, date_b, sc.hour, what="B")


def _field(grid, hour, hours):
    return (grid["pm25"].isel(time=hours).mean("time") if hour is None else grid["pm25"].isel(time=hour)).values


def _stations(res, date: str):
    """The stations of ``date`` with what they measured and the model's interval there (tooltips)."""
    sl_d = loaders.window_slice(sc.dataset, date)
    obs = loaders.observed_mask(sl_d, sc.masked)
    tr = loaders.truth_of(sc.dataset, date)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a station without a value that day: NaN, drawn grey
        shown = (np.nanmean(tr.values, axis=0) if sc.hour is None else tr.isel(time=sc.hour).values)
    frame = layers.station_frame(sl_d["station"].values, [names.strip_annotation(n) for n in sl_d["name"].values],
                                 [names.city_label(c) for c in sl_d["city"].values], sl_d["lat"].values,
                                 sl_d["lon"].values, obs, np.where(obs, shown, np.nan))
    frame["interval"] = interval_text(*decision.station_interval(res, sc.hour), len(frame))
    return frame


with guard("Inference"):
    with st.spinner("Running both scenarios …"):
        res_a = loaders.run_scenario(sc.dataset, sc.date, sc.model, sc.masked, True)
        res_b = loaders.run_scenario(sc.dataset, date_b, model_b, sc.masked, True)
    if res_a.grid is None or res_b.grid is None:
        st.error("One of the models returns no grid surface; choose another.")
        st.stop()
    lat, lon = res_a.grid["lat"].values, res_a.grid["lon"].values
    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = district != "" if (district != "").any() else np.ones(district.shape, bool)
    fa = np.where(inside, _field(res_a.grid, sc.hour, hours_a), np.nan)
    fb = np.where(inside, _field(res_b.grid, sc.hour, hours_b), np.nan)
    below, above = loaders.context()
    sl = loaders.window_slice(sc.dataset, sc.date)
    obs_mask = loaders.observed_mask(sl, sc.masked)

    grids_ab = [r.grid if sc.hour is not None else r.grid.isel(time=h) for r, h in ((res_a, hours_a), (res_b, hours_b))]
    has_interval = all(decision.shown_interval(g, sc.hour)[0] is not None for g in grids_ab)
    shown = shown_view(view, has_interval)
    bounds_ab = []
    for g in grids_ab:
        lo, hi = decision.shown_interval(g, sc.hour)
        if lo is not None:
            lo, hi = np.where(inside, lo, np.nan), np.where(inside, hi, np.nan)
        bounds_ab.append((lo, hi))

    # ---- one view for every map of the page (A, B, difference): the same pdk.ViewState, set by one control
    c1, c2, c3 = st.columns([1, 2, 1])
    layout = c1.radio("Maps", ["side by side", "swipe"], key="cmp_layout",
                      help="Side by side: both maps show the same view, moved together by the controls here. "
                           "Swipe: one map, A west of the split, B east of it; drag the split.")
    index = decision.place_index(sc.dataset)
    w_, s_, e_, n_ = info["bbox"]
    cities = index[(index["kind"] == "city") & index["lat"].between(s_, n_) & index["lon"].between(w_, e_)]
    focus_label = c2.selectbox("Centre both maps on", ["the whole region", *cities["label"]], key="cmp_focus")
    zoom_in = c3.slider("Zoom in (levels)", 0.0, 4.0, 0.0, 0.5, key="cmp_zoom")
    hit = cities[cities["label"] == focus_label]
    focus = None if hit.empty else (float(hit["lat"].iloc[0]), float(hit["lon"].iloc[0]))
    view_id = abs(hash((focus, zoom_in)))  # a new view → the maps are re-created on it (not left where they were)
    # The one view state: zoom fitted to the smaller (side-by-side) map, so the region fits every map.
    view_state = shared_view(info["bbox"], layers.HALF_WIDTH_PX, 420, focus, zoom_in)

    def _side_deck(layers_: list, tooltip=None, height_px: int = 420):
        # The map's size goes with the shared view, so its city labels stay inside the half-width frame.
        # Labels as an image: these maps cannot zoom, and without a TextLayer each map compiles one shader program
        # fewer; in software WebGL (headless Chromium) that was ~1.2 s less GPU-process CPU per page load.
        d = layers.deck(layers_, info["bbox"], tooltip=tooltip, view=view_state, width_px=layers.HALF_WIDTH_PX,
                        height_px=height_px, labels_as_image=True)
        d.views = [pdk.View(type="MapView", controller=False)]  # moved only by the shared controls: never apart
        return d

    if layout == "side by side":
        col_a, col_b = st.columns(2)
        for col, f, res, date, (lo, hi), lab, key in (
                (col_a, fa, res_a, sc.date, bounds_ab[0], label_a, "cmp_map_a"),
                (col_b, fb, res_b, date_b, bounds_ab[1], label_b, "cmp_map_b")):
            col.markdown(f"**{lab}**")
            col.pydeck_chart(_side_deck([*below, view_layer(shown, f, lat, lon, lo, hi), *above,
                                         probe_layer(f, lat, lon, lo, hi),
                                         layers.station_layer(_stations(res, date))], TOOLTIP),
                             key=f"{key}_{view_id}", height=420)
        st.caption("Both maps always show the same place at the same zoom: move them with **Centre both maps on** "
                   "and **Zoom in** (dragging is off so they cannot drift apart), or choose **swipe** to pan one map.")
    else:
        split = st.slider("Split at (°E): A west, B east", float(lon[0]), float(lon[-1]),
                          float(np.round((lon[0] + lon[-1]) / 2, 2)), 0.05, key="cmp_split")
        img_a = view_image(shown, fa, lat, *bounds_ab[0])
        img_b = view_image(shown, fb, lat, *bounds_ab[1])
        d = layers.deck([*below, *swipe_layers(img_a, img_b, lat, lon, split), *above], info["bbox"],
                        view=view_state)
        st.markdown(f"**West of {split:.2f}°E — {label_a} · east — {label_b}**")
        st.pydeck_chart(d, key=f"cmp_swipe_{view_id}", height=560)
    legend(view, when, has_interval, " or ".join(sorted({sc.model, model_b})),
           tooltips=layout == "side by side")

    st.subheader("Difference B − A")
    diff = fb - fa
    st.pydeck_chart(_side_deck([*below, image_layer(diff_rgba(diff, lat), lat, lon, "difference"), *above],
                               height_px=480), key=f"cmp_diff_{view_id}", height=480)
    st.markdown(diff_legend_html(f"PM2.5 B − A, {when} (µg/m³)"), unsafe_allow_html=True)
    finite = diff[np.isfinite(diff)]
    if len(finite):
        st.caption(f"Median difference {np.median(finite):+.1f} µg/m³; 90 % of cells between "
                   f"{np.percentile(finite, 5):+.1f} and {np.percentile(finite, 95):+.1f} µg/m³. "
                   f"Source: {source_caption(info, 'surfaces inferred by ' + ', '.join(sorted({sc.model, model_b})))}.")

    st.subheader("Scores at the stations measured in both")
    truth_a = loaders.truth_of(sc.dataset, sc.date).values
    truth_b = loaders.truth_of(sc.dataset, date_b).values
    hidden = ~obs_mask
    honest = hidden.any()
    cand = hidden if honest else np.ones_like(hidden)
    shared = shared_stations(truth_a, truth_b, cand)
    if not shared.any():
        st.info("No station has measurements in both scenarios; nothing to score.")
    else:
        pick = (lambda a: a) if sc.hour is None else (lambda a: a[sc.hour:sc.hour + 1])
        rows = []
        for lab, res, tr in (("A", res_a, truth_a), ("B", res_b, truth_b)):
            t = pick(tr)
            p = pick(res.station_pred.values)
            row = scoring.summary_table(t, {lab: p}, shared).iloc[0].to_dict()
            rows.append(row)
        table = pd.DataFrame(rows).rename(columns={"model": "scenario", "MAE": "MAE (µg/m³)", "RMSE": "RMSE (µg/m³)",
                                                   "bias": "bias (µg/m³)", "n": "hour × station pairs"})
        table.insert(1, "what", [label_a, label_b])
        st.dataframe(table.round(2), hide_index=True, width="stretch")
        st.caption(
            f"{int(shared.sum())} stations with measurements in both; "
            + ("scored where they are hidden from the models (set in the Masking lab): a fair test."
               if honest else "no station is hidden, so this is each model's fit at its own inputs, not its skill "
                              "at unmonitored places — hide stations in the Masking lab for a fair score.")
        )
