"""Robustness: MAE vs share of stations masked, seasons, sparse-30km — from the evaluation reports, or live."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, loaders, masking, reports, scoring
from dashboard.ui import guard, page_context, source_caption

ctx = page_context("Robustness to missing stations")
sc, info = ctx.scenario, ctx.info

table = reports.long_table(loaders.metrics_reports())
st.subheader("From the evaluation reports (assets/metrics, test days)")
if table.empty:
    st.info("No test-split evaluation report in `assets/metrics/` yet. Produce them with e.g. "
            "`python -m core evaluate --model spin --protocol mask-50 --dataset cnemc_bth_2019 "
            "--json assets/metrics/spin_mask-50.json` — or use **Run live** below.")
else:
    datasets = sorted(table["dataset"].unique())
    ds_pick = st.selectbox("Report dataset", datasets, key="rob_dataset",
                           index=datasets.index(loaders.PRIMARY) if loaders.PRIMARY in datasets else 0)
    t = table[table["dataset"] == ds_pick]
    cur = reports.curves(t)
    src = f"python -m core evaluate reports ({', '.join(sorted(t['file'].unique())[:4])}…), {ds_pick}, S_test stations"
    if cur.empty:
        st.info("No mask-R report for this dataset yet (protocols mask-30 … mask-90).")
    else:
        st.plotly_chart(charts.robustness_figure(cur, src, "MAE at S_test vs share of BTH stations masked "
                                                 "(mean ± std over seeds)"), width="stretch", key="rob_curves")
    c1, c2 = st.columns(2)
    for col, proto in ((c1, "holdout"), (c2, "mask-50")):
        s = reports.season_table(t, proto)
        col.markdown(f"**Seasons — {proto}** · MAE (µg/m³)")
        if s.empty:
            col.caption(f"No {proto} report yet.")
        else:
            col.dataframe(s.round(2), hide_index=True, width="stretch")
    sp = reports.protocol_table(t, "sparse-30km")
    st.markdown("**sparse-30km** · each S_test station hidden with every station within 30 km · µg/m³")
    if sp.empty:
        st.caption("No sparse-30km report yet.")
    else:
        st.dataframe(sp.round(2), hide_index=True, width="stretch")

# ---- live: the current date, random shares of BTH stations hidden
st.subheader(f"Run live · {sc.date}")
st.caption("Hide 10–90 % of BTH stations at random (seeds 0…n−1), infer with the chosen model and IDW, and score the "
           "hidden stations on every hour of the chosen day. Each point is cached, so a second run is instant.")
c1, c2, c3 = st.columns([2, 1, 1])
shares = c1.multiselect("Shares masked (%)", list(range(10, 100, 10)), default=[10, 30, 50, 70, 90], key="rob_shares")
n_seeds = c2.number_input("Seeds", 1, 5, 2, key="rob_seeds")
go = c3.button("Run live", type="primary", key="rob_run")
if go:
    st.session_state["rob_live"] = (sc.dataset, sc.date, sc.model, tuple(sorted(shares)), int(n_seeds))
live = st.session_state.get("rob_live")
if live and live[:3] == (sc.dataset, sc.date, sc.model):
    with guard("Live robustness run"):
        ds = loaders.load_dataset(sc.dataset)
        models = [sc.model] + (["idw"] if sc.model != "idw" and "idw" in loaders.model_names() else [])
        truth = loaders.truth_of(sc.dataset, sc.date)
        codes = truth["station"].values.astype(str)
        rows, bar = [], st.progress(0.0, text="inferring …")
        todo = [(s, seed) for s in live[3] for seed in range(live[4])]
        for i, (share, seed) in enumerate(todo):
            hidden_codes = tuple(masking.random_share(ds, share / 100, seed))
            hidden = np.isin(codes, hidden_codes)
            preds = {m: loaders.run_scenario(sc.dataset, sc.date, m, hidden_codes, False)
                     .station_pred.sel(time=truth["time"]).values for m in models}
            tab = scoring.summary_table(truth.values, preds, hidden)
            rows += [{"model": r.model, "share": share / 100, "seed": seed, "mae": r.MAE} for r in tab.itertuples()]
            bar.progress((i + 1) / len(todo), text=f"{share} % masked, seed {seed}")
        bar.empty()
        df = pd.DataFrame(rows)
        if df.empty or df["mae"].isna().all():
            st.warning("Nothing could be scored on this date (no measurement at the hidden stations).")
        else:
            cur = df.groupby(["model", "share"], as_index=False)["mae"].agg(["mean", "std"]).reset_index()
            cur = cur.rename(columns={"mean": "mae"})
            st.plotly_chart(charts.robustness_figure(cur, source_caption(info, f"live run, {sc.date}, "
                                                                        f"seeds 0–{live[4] - 1}"),
                                                     f"MAE at hidden stations vs share masked · {sc.date}"),
                            width="stretch", key="rob_live_fig")
            st.dataframe(df.pivot_table(index=["share", "seed"], columns="model", values="mae").round(2),
                         width="stretch")
elif not go:
    st.caption("Press **Run live** to compute the curve for the current date and model.")
