"""Compare: two models or two dates side by side (same framing), the difference map, scores at shared stations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import layers, loaders, scoring
from dashboard.compare_layers import diff_legend_html, diff_rgba, shared_stations
from dashboard.ui import guard, page_context, source_caption
from dashboard.uncertainty_layers import image_layer

ctx = page_context("Compare")
sc, info = ctx.scenario, ctx.info
when = "daily mean" if sc.hour is None else f"{sc.hour:02d}:00"

mode = st.radio("Compare", ["two models", "two dates"], horizontal=True, key="cmp_mode")
models = loaders.model_names()
if mode == "two models":
    others = [m for m in models if m != sc.model] or models
    others = sorted(others, key=lambda m: m not in loaders.BASELINES)  # a fast baseline first: the page opens quickly
    model_b = st.selectbox("Model B", others, key="cmp_model")
    date_b = sc.date
else:
    model_b = sc.model
    lo_d, hi_d = dt.date.fromisoformat(info["start"]), dt.date.fromisoformat(info["end"])
    default_b = max(lo_d, dt.date.fromisoformat(sc.date) - dt.timedelta(days=1))
    date_b = st.date_input("Date B", value=default_b, min_value=lo_d, max_value=hi_d, key="cmp_date").isoformat()
label_a = f"A: {sc.model}, {sc.date} {when}"
label_b = f"B: {model_b}, {date_b} {when}"


def _field(grid, hour):
    return (grid["pm25"].mean("time") if hour is None else grid["pm25"].isel(time=hour)).values


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
    fa = np.where(inside, _field(res_a.grid, sc.hour), np.nan)
    fb = np.where(inside, _field(res_b.grid, sc.hour), np.nan)
    below, above = loaders.context()
    sl = loaders.window_slice(sc.dataset, sc.date)
    obs_mask = loaders.observed_mask(sl, sc.masked)

    col_a, col_b = st.columns(2)
    for col, f, lab, key in ((col_a, fa, label_a, "cmp_map_a"), (col_b, fb, label_b, "cmp_map_b")):
        col.markdown(f"**{lab}**")
        # Both maps get the same bbox and size, so they open on exactly the same view.
        col.pydeck_chart(layers.deck([*below, layers.surface_layer(f, lat, lon), *above], info["bbox"],
                                     height_px=420, width_px=560), key=key, height=420)
    st.markdown(layers.legend_html(f"Inferred PM2.5 {when} (µg/m³), HJ 633-2012 AQI categories"),
                unsafe_allow_html=True)

    st.subheader("Difference B − A")
    diff = fb - fa
    st.pydeck_chart(layers.deck([*below, image_layer(diff_rgba(diff, lat), lat, lon, "difference"), *above],
                                info["bbox"], height_px=480), key="cmp_diff", height=480)
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
