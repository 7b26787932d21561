"""About: data sources (curated), plain model cards and limitations, composed from dashboard.about_layers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import AirAtlasError
from core.paths import data_dir
from dashboard import about_layers as al
from dashboard import loaders

ctx = st.session_state.get("ctx")
st.header("About AirAtlas")
st.markdown(
    "AirAtlas estimates hourly **PM2.5 (µg/m³)** at places without a monitor across Beijing–Tianjin–Hebei from the "
    "national monitoring network. Every map and score in this dashboard comes from the same inference step: "
    "stations you hide are blanked before any model sees them, and every estimate carries a calibrated "
    "**90 % interval**."
)
tab_lim, tab_models, tab_data = st.tabs(["Limitations", "Model cards", "Data sources"])

reports = loaders.metrics_reports()
primary = "spin" if "spin" in loaders.model_names() else (ctx.scenario.model if ctx is not None else "idw")

with tab_lim:
    st.subheader("Limitations, in plain words")
    info, flagged = None, None
    if ctx is not None:
        info = ctx.info
        try:
            ds = loaders.load_dataset(ctx.scenario.dataset)
            bad = np.asarray(ds.coords["coord_mismatch"].values, bool) if "coord_mismatch" in ds.coords else None
            if bad is not None and bad.any():
                flagged = pd.DataFrame({k: ds[k].values[bad] for k in ("name", "city", "lat", "lon")}
                                       | {"code": ds["station"].values[bad].astype(str)})
        except AirAtlasError:
            pass
    st.markdown("\n".join(f"- {line}" for line in al.limitations(reports, primary, info, flagged)))
    st.caption("Figures: assets/metrics test reports (held-out stations S_test, test days 24–end of each month) "
               "and the dataset loaded in the sidebar.")

with tab_models:
    st.subheader("Model cards")
    st.markdown("Each model infers PM2.5 at hidden stations and grid cells from the observed stations. "
                "Test figures: held-out stations never seen in training, on test days (24th–end of each month).")
    for name in loaders.model_names():
        card = al.model_card(name, loaders.model_card(name), loaders.interval_meta(name),
                             al.test_split_reports(reports, name))
        with st.expander(f"**{name}**" + (" — the default model" if name == primary else ""), expanded=name == primary):
            st.markdown(card.summary)
            st.table(card.facts.set_index("item"))
            if not card.metrics.empty:
                st.markdown("**Test results** (µg/m³; interval = the stated 90 % interval)")
                st.dataframe(card.metrics, hide_index=True, width="stretch")
                st.caption("; ".join(f"{k}: {v}" for k, v in al.PROTOCOL_TEXT.items()))
            if card.limits:
                st.markdown("**Limits**\n" + "\n".join(f"- {x}" for x in card.limits))
    if ctx is not None:
        st.caption(f"Models run on {ctx.device}.")

with tab_data:
    st.subheader("Data sources")
    try:
        root = data_dir()
        present = {f"{p.parent.parent.name}/{p.parent.name}" for p in [*root.glob("raw/*/SOURCE.md"),
                                                                      *root.glob("geo/*/SOURCE.md")]}
    except AirAtlasError as err:
        present = set()
        st.warning(str(err))
    if ctx is not None and ctx.info["demo"]:
        st.info("The current dataset is the synthetic demo (AirAtlas advection–diffusion simulator, CC0): "
                "not real measurements.")
    try:
        pv = version("pvlib")
    except PackageNotFoundError:
        pv = ""
    sources = [*al.SOURCES, al.terrain_source(pv)]
    st.dataframe(al.sources_table(sources), hide_index=True, width="stretch")
    for src in sources:
        with st.expander(src.name):
            st.markdown(al.source_markdown(src, on_disk=(src.folder in present) if src.folder and present else None))
    for folder in al.uncurated(present):
        st.caption(f"{folder}: staged but not summarised here yet — see its SOURCE.md.")
