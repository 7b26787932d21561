"""Attention: what the learned models looked at — AQ-Net-style temporal attention, SPIN spatial influence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, layers, loaders, names
from dashboard.ui import guard, page_context, require_day, source_caption

ctx = page_context("Attention and influence")
sc, info = ctx.scenario, ctx.info

ds = loaders.load_dataset(sc.dataset)
codes = ds["station"].values.astype(str)
label_of = names.station_labels(codes, ds["name"].values, ds["city"].values)
models = loaders.model_names()
hidden_note = f"{len(sc.masked)} station(s) hidden" if sc.masked else "all stations observed"
require_day(sc.dataset, sc.date, None, consequence="The attention and influence below describe a prediction for a "
            "day the models saw only those hours of.")

# ---- temporal attention (aqnet)
st.subheader("Temporal attention · AQ-Net-style model")
n_days = loaders.attention_days(info, sc.date)
att_model = loaders.attention_model(models)
if att_model is None:
    st.info("No model with temporal attention (the AQ-Net-style `aqnet`) has a trained checkpoint in this checkout "
            "yet (assets/models/aqnet/model.pt); its attention appears here once it does.")
else:
    with guard(f"{att_model} attention"):
        with st.spinner(f"Running {att_model} …"):
            res = loaders.run_scenario(sc.dataset, sc.date, att_model, sc.masked, False, n_days)
        if res.attention is None:
            st.info(f"{att_model} returned no attention for this scenario.")
        else:
            att = res.attention
            st_codes = [c for c in att["station"].values.astype(str) if np.isfinite(att.sel(station=c).values).any()]
            default = st_codes.index(sc.masked[0]) if sc.masked and sc.masked[0] in st_codes else 0
            pick = st.selectbox("Station", st_codes, index=default, format_func=label_of.get, key="att_station")
            w = att.sel(station=pick)
            pred_labels = [str(pd.Timestamp(t).date()) for t in w["pred_day"].values]
            hist_labels = [f"{int(h)} d" for h in w["hist_day"].values]
            status = "hidden: mix of its neighbours' attention" if pick in sc.masked else "observed"
            no_data = charts.history_without_data(w["hist_date"].values, info["days_with_data"])
            fig = charts.attention_heatmap(
                w.values, pred_labels, hist_labels,
                f"{label_of[pick]} ({status}) · prediction day × history day",
                source_caption(info, f"{att_model} attention, head-averaged, {hidden_note}"), no_data=no_data)
            fig.update_yaxes(title="prediction day")
            fig.update_xaxes(title="history day (days before the prediction day)")
            st.plotly_chart(fig, width="stretch", key="att_heat")
            st.caption("Each row: how much the model's 24-h prediction for that day drew on each of the 14 days "
                       "before it (weights sum to 1; dimensionless)."
                       + (f" Blank cells ({int(no_data.sum())}): days without data in this dataset (before it "
                          "begins, or a gap); the model spread some weight there over padding, so a row's visible "
                          "weights sum to less than 1." if no_data.any() else ""))

# ---- spatial influence (spin; aqnet's kNN weights otherwise)
st.subheader("Spatial influence · which stations fed an estimate")
cands = loaders.influence_models(models)
if not cands:
    st.info("No trained spin / aqnet checkpoint is in this checkout yet (assets/models/<name>/model.pt); "
            "the spatial influence map appears once one is.")
    st.stop()
inf_model = st.selectbox("Model", cands, key="att_inf_model")
with guard(f"{inf_model} influence"):
    res = loaders.run_scenario(sc.dataset, sc.date, inf_model, sc.masked, False)
    inf = res.influence
    if inf is None:
        st.info(f"{inf_model} gives no spatial influence. Choose spin (diffusion/advection split) or aqnet (kNN).")
        st.stop()
    targets = inf["target"].values.astype(str)
    default = list(targets).index(sc.masked[0]) if sc.masked and sc.masked[0] in targets else 0
    tgt = st.selectbox("Target station", targets, index=default, format_func=lambda c: label_of.get(c, c),
                       key="att_target")
    sources = inf["source"].values.astype(str)
    pos = {c: i for i, c in enumerate(codes)}
    si = np.array([pos[c] for c in sources])
    has_split = "diffusion" in inf and "advection" in inf
    if has_split:
        diff, adv = inf["diffusion"].sel(target=tgt).values, inf["advection"].sel(target=tgt).values
        split = "blue = diffusion (distance kernel), red = advection (wind kernel)"
        kind = None
    else:
        # One kind of weight (e.g. aqnet's kNN weights): drawn as that, never as a diffusion/advection split.
        kind = f"{list(inf.data_vars)[0]} weight"
        diff, adv = inf[list(inf.data_vars)[0]].sel(target=tgt).values, np.zeros(len(sources))
        split = f"{inf_model} gives one kind of weight ({kind}): no diffusion/advection split"
    ti = pos[tgt]
    frame = layers.influence_frame(ds["lat"].values[si], ds["lon"].values[si], float(ds["lat"].values[ti]),
                                   float(ds["lon"].values[ti]), diff, adv, sources,
                                   [names.strip_annotation(n) for n in ds["name"].values[si]])
    tot = float(diff.sum() + adv.sum())
    if frame.empty or tot <= 0:
        st.warning("No source station contributed to this target in this scenario.")
        st.stop()
    tgt_frame = layers.station_frame([tgt], [ds["name"].values[ti]], [ds["city"].values[ti]], [ds["lat"].values[ti]],
                                     [ds["lon"].values[ti]], np.array([tgt not in sc.masked]), np.array([np.nan]))
    below, above = loaders.context()
    # Frame the target and its sources (padded), not the whole region: sources are often a few km away.
    pad = 0.25
    view_box = (float(min(frame["lon"].min(), frame["tlon"].iloc[0])) - pad,
                float(min(frame["lat"].min(), frame["tlat"].iloc[0])) - pad,
                float(max(frame["lon"].max(), frame["tlon"].iloc[0])) + pad,
                float(max(frame["lat"].max(), frame["tlat"].iloc[0])) + pad)
    deck = layers.deck([*below, *above, layers.influence_layer(frame), layers.station_layer(tgt_frame, "target")],
                       view_box, tooltip={"html": "<b>{name}</b> {code}<br>share {total}"}, height_px=460,
                       width_px=560)
    c1, c2 = st.columns([3, 2])
    with c1:
        st.pydeck_chart(deck, key="att_map", height=460)
        st.caption(f"Lines from the {len(frame)} strongest sources to {label_of.get(tgt, tgt)}; width ∝ share; "
                   f"{split}. Wind: {res.wind}. Source: {source_caption(info, inf_model)}.")
    if kind is not None:
        frame = frame.assign(color=[[60, 60, 60, 200]] * len(frame))  # one colour: there is no split to show
    c2.plotly_chart(charts.influence_bars(frame, source_caption(info, inf_model),
                                          f"Shares in {names.strip_annotation(ds['name'].values[ti])}'s estimate",
                                          single=kind),
                    width="stretch", key="att_bars")
    if kind is None:
        d_share = float(diff.sum() / tot)
        st.markdown(f"**Diffusion {100 * d_share:.0f} % · advection {100 * (1 - d_share):.0f} %** of the influence "
                    f"on this target (all sources).")
    else:
        top = frame["total"].iloc[0] / tot
        st.markdown(f"**{len(frame)} source stations** carry the estimate; the strongest has "
                    f"{100 * top:.0f} % of the {kind} weight.")
