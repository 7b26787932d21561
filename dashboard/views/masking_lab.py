"""Masking lab: hide stations, rerun, and see how well each model recovers them."""

from __future__ import annotations

import html
import json
import warnings

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, decision, layers, loaders, masking, names, prefetch, scoring
from dashboard.state import K_MASKED, K_PENDING
from dashboard.ui import guard, page_context, require_day, source_caption
from dashboard.uncertainty_layers import LEVEL, interval_text

ctx = page_context("Masking lab")
sc, info = ctx.scenario, ctx.info
st.caption("Hide stations, press **Rerun**: every model infers the hidden stations from the others only "
           "(values are blanked before any model sees them), and is scored against what those stations measured.")

ds = loaders.load_dataset(sc.dataset)
codes = ds["station"].values.astype(str)
label_of = names.station_labels(codes, ds["name"].values, ds["city"].values)
pending = [c for c in st.session_state.get(K_PENDING, list(sc.masked)) if c in label_of]


def set_pending(new: list[str]) -> None:
    st.session_state[K_PENDING] = sorted(set(new))


# ---- ways to hide stations
t_city, t_rand, t_iso, t_list = st.tabs(["By city", "Random share", "Isolate", "List / clear"])
with t_city:
    cities = st.multiselect("Cities (BTH first)", info["cities"], key="lab_cities", format_func=names.city_label)
    if st.button("Hide these cities", key="lab_hide_city", disabled=not cities):
        set_pending(pending + masking.by_city(ds, cities))
with t_rand:
    c1, c2 = st.columns(2)
    share = c1.slider("Share of BTH stations hidden (%)", 10, 90, 50, step=10, key="lab_share")
    seed = c2.number_input("Seed", min_value=0, max_value=10_000, value=0, step=1, key="lab_seed")
    if st.button("Hide a random share", key="lab_hide_random"):
        set_pending(masking.random_share(ds, share / 100, int(seed)))
with t_iso:
    c1, c2 = st.columns([3, 1])
    target = c1.selectbox("Station", codes, format_func=label_of.get, key="lab_iso_station")
    radius = c2.slider("Radius R (km)", 5, 100, 30, step=5, key="lab_iso_radius")
    if st.button("Hide it and its neighbours within R", key="lab_hide_iso"):
        set_pending(pending + masking.isolate(ds, target, float(radius)))
with t_list:
    chosen = st.multiselect("Hidden stations (edit freely)", codes, default=pending, format_func=label_of.get,
                            key=f"lab_list_{hash(tuple(pending))}", placeholder="none")
    c1, c2 = st.columns(2)
    if c1.button("Use this list", key="lab_use_list"):
        set_pending(chosen)
    if c2.button("Clear all", key="lab_clear"):
        set_pending([])
pending = st.session_state.get(K_PENDING, pending)

bth = loaders.bth_mask(ds)  # BTH stations whose coordinates agree with their city
n_bth = int(bth.sum())
n_pend_bth = int(np.isin(codes[bth], pending).sum())
c1, c2 = st.columns([3, 1])
c1.markdown(f"**{len(pending)} station(s) to hide** ({n_pend_bth}/{n_bth} BTH = "
            f"{100 * n_pend_bth / max(n_bth, 1):.0f} %) · applied now: {len(sc.masked)} · "
            "click stations on the map to toggle them.")
changed = tuple(sorted(pending)) != sc.masked


def apply_pending() -> None:
    # A callback runs before the next script run, so the sidebar's scenario already has the new
    # hidden set: one run instead of two (a quicker map update after Rerun).
    pend = st.session_state.get(K_PENDING, st.session_state.get(K_MASKED, ()))
    st.session_state[K_MASKED] = tuple(sorted(pend))


c2.button("Rerun", type="primary", key="lab_rerun", help="Apply the hidden set and rerun every model",
          on_click=apply_pending)
if changed:
    st.info("The hidden set changed: press **Rerun** to apply it.")
    if pending and prefetch.enabled() and not all(c in pending for c in codes):
        # The chosen model on the queued set, in the background while the user looks: Rerun then finds it cached.
        prefetch.warm_pending(sc.dataset, sc.date, sc.model, tuple(sorted(pending)))

# ---- run the chosen model and the baselines on the same hidden set
# A day without data stops here (nothing to show or score); a partial day is said once, before the map.
require_day(sc.dataset, sc.date, None, consequence="The station values and the scores below rest on those hours "
            "only — not comparable with a full day's.")
applied = sc.masked
models = [sc.model] + [b for b in loaders.CLASSICAL if b in loaders.model_names() and b != sc.model]
results = {}


def run_models(names: list[str]) -> None:
    """Infer the applied hidden set with each model (cached per scenario); failures become messages."""
    for m in names:
        with guard(f"{m}"):
            with st.spinner(f"Inferring {len(applied)} hidden stations with {m} …"):
                results[m] = loaders.run_scenario(sc.dataset, sc.date, m, applied, False)


# The chosen model first, so the map with its error bubbles is drawn before the baselines run.
if applied and not all(c in applied for c in codes):
    run_models(models[:1])

with guard("Masking lab"):
    sl = loaders.window_slice(sc.dataset, sc.date)
    truth_da = loaders.truth_of(sc.dataset, sc.date)
    truth = truth_da.values
    obs_mask = loaders.observed_mask(sl, applied)
    hidden = ~obs_mask
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # stations without a value that day: NaN, drawn grey
        shown = np.where(obs_mask, np.nanmean(np.where(np.isfinite(truth), truth, np.nan), axis=0), np.nan)
    pend_obs = ~np.isin(codes, pending)
    stations = layers.station_frame(codes, sl["name"].values, sl["city"].values, sl["lat"].values, sl["lon"].values,
                                    pend_obs, np.where(pend_obs, shown, np.nan))

    preds = {m: r.station_pred.sel(time=truth_da["time"]).values for m, r in results.items()}
    # The chosen model's 90 % interval (daily mean of its hourly bounds) in every station's tooltip.
    s_iv = (interval_text(*decision.station_interval(results[sc.model], None), len(codes))
            if sc.model in results else [f"no {LEVEL} interval yet: press Rerun"] * len(codes))
    stations["interval"] = [f"{sc.model} {t}" if sc.model in results else t for t in s_iv]
    below, above = loaders.context()
    map_layers = [*below, *above]
    per = None
    if sc.model in preds:
        per = scoring.per_station(truth, preds[sc.model], hidden)
        per = per.assign(code=codes[per["index"]], name=sl["name"].values[per["index"]],
                         lat=sl["lat"].values[per["index"]], lon=sl["lon"].values[per["index"]],
                         interval=[f"{sc.model} {s_iv[i]}" for i in per["index"]])
        map_layers.append(layers.bubble_layer(layers.error_bubbles(per.dropna(subset=["mae"]))))
        # On-map size key: reference circles drawn with the same metres-per-µg/m³ rule, so they scale with zoom.
        map_layers += layers.bubble_key_layers(layers.bubble_key(info["bbox"], layers.key_values(per["mae"])))
    map_layers.append(layers.station_layer(stations))
    tooltip = {"html": "<b>{name}</b> {code}<br>{status} · daily mean {pm25} µg/m³<br>MAE {mae} · bias {bias}"
                       "<br>{interval}",
               "style": {"fontSize": "12px"}}
    event = st.pydeck_chart(layers.deck(map_layers, info["bbox"], tooltip=tooltip, height_px=470), on_select="rerun",
                            selection_mode="single-object", key="lab_map", height=520)
    n_bubbles = f"{int(per['mae'].notna().sum())} error bubbles" if per is not None else "Error bubbles"
    st.caption(
        f"{n_bubbles} at hidden stations: radius ∝ {sc.model}'s MAE over {sc.date} "
        f"({layers.BUBBLE_M_PER_UG / 1000:.2f} km per µg/m³; grey circles top left = size key); "
        "red = over-estimate (bias > 0), blue = under-estimate. "
        "Filled circles: observed (colour = measured daily-mean PM2.5, HJ 633-2012); hollow rings: to hide. "
        f"Source: {source_caption(info, 'estimates by AirAtlas models')}."
    )
    objs = (event.selection.get("objects", {}) if event is not None and hasattr(event, "selection") else {}) or {}
    clicked = [o.get("code") for o in objs.get("stations", []) + objs.get("bubbles", []) if o.get("code")]
    last = st.session_state.get("lab_last_click")
    if clicked and clicked[0] != last:
        st.session_state["lab_last_click"] = clicked[0]
        set_pending(masking.toggle(pending, clicked[0]))
        st.rerun()
    if not clicked:
        st.session_state["lab_last_click"] = None

    if not applied:
        st.info("No station is hidden yet: choose some above (or click them on the map) and press **Rerun**.")
        st.stop()
    if obs_mask.sum() == 0:
        st.error("Every station is hidden: nothing is left to infer from. Unhide some stations.")
        st.stop()
    run_models(models[1:])
    if not results:
        st.stop()
    preds = {m: r.station_pred.sel(time=truth_da["time"]).values for m, r in results.items()}

    st.subheader(f"Scores at the {int(hidden.sum())} hidden stations · {sc.date}, hourly values")
    off = np.isin(codes, [c for c in applied if c in set(codes[ds["is_bth"].values & ~bth])])
    if off.any():
        st.caption(f"{int(off.sum())} hidden station(s) have coordinates outside their listed BTH city "
                   "(coord_mismatch, see About) and are scored but not counted as BTH.")
    table = scoring.summary_table(truth, preds, hidden)
    if table["n"].max() == 0:
        st.warning("The hidden stations have no measurement on this date: nothing to score. Pick another date "
                   "or other stations.")
    else:
        c1, c2 = st.columns([3, 2])
        c1.dataframe(table.rename(columns={"MAE": "MAE (µg/m³)", "RMSE": "RMSE (µg/m³)", "bias": "bias (µg/m³)",
                                           "R2": "R²", "n": "pairs (hour×station)"}).round(2),
                     hide_index=True, width="stretch")
        c1.caption("Same hidden stations and same hours for every model (pairs where all models give a value "
                   "and the station measured).")
        # test hook (tests/dashboard/test_load.py): the unrounded scores of this session, invisible
        hook = {"dataset": sc.dataset, "date": sc.date, "masked": list(applied),
                "scores": table.to_dict(orient="records")}
        c1.html('<div data-testid="lab-scores" hidden>' + html.escape(json.dumps(hook, default=float)) + "</div>")
        c2.plotly_chart(charts.metrics_bar(table.dropna(subset=["MAE"]), source_caption(info)), width="stretch",
                        key="lab_bar")

    # ---- observed vs inferred at one hidden station
    hid_codes = codes[hidden]
    order = per.sort_values("mae", ascending=False)["code"].tolist() if per is not None else list(hid_codes)
    pick = st.selectbox("Hidden station", order, format_func=label_of.get, key="lab_ts_station")
    j = int(np.flatnonzero(codes == pick)[0])
    fig = charts.timeseries_figure(
        pd.DatetimeIndex(truth_da["time"].values), truth[:, j], {m: p[:, j] for m, p in preds.items()},
        f"{label_of[pick]}: hidden — observed vs inferred", source_caption(info, "estimates by AirAtlas models"),
        lo=results[sc.model].station_lo.sel(time=truth_da["time"]).values[:, j]
        if results.get(sc.model) is not None and results[sc.model].station_lo is not None else None,
        hi=results[sc.model].station_hi.sel(time=truth_da["time"]).values[:, j]
        if results.get(sc.model) is not None and results[sc.model].station_hi is not None else None,
        band_label=f"{sc.model}: {LEVEL} interval",
    )
    st.plotly_chart(fig, width="stretch", key="lab_ts")
