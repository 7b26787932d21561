"""Exceedance days over a period: per place, days whose 24-h mean is above WHO 15 and GB 75, and people × days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st

from core.exceedance import LIMITS, MIN_HOURS, people_days
from core.hotspots import people_text
from dashboard import decision, layers, loaders
from dashboard.exceedance_layers import days_legend_html, days_rgba
from dashboard.ui import guard, page_context, source_caption
from dashboard.uncertainty_layers import image_layer

ctx = page_context("Days above the limits")
sc, info = ctx.scenario, ctx.info

period = st.radio("Period", ["the month of the chosen date", "days ending on the chosen date"], horizontal=True,
                  key="exc_period")
chosen = dt.date.fromisoformat(sc.date)
first, last = dt.date.fromisoformat(info["start"]), dt.date.fromisoformat(info["end"])
if period == "the month of the chosen date":
    nxt = (chosen.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    end = min(nxt - dt.timedelta(days=1), last)
    start = max(chosen.replace(day=1), first)
else:
    n = st.slider("Days", 2, 62, 14, key="exc_days")
    end, start = chosen, max(first, chosen - dt.timedelta(days=n - 1))
n_days = (end - start).days + 1
st.caption(f"{start} … {end} ({n_days} days) · {sc.model} · each day is the surface the Hotspots page shows for it "
           f"(inferred once, then read from the surface store); a day counts when it has ≥ {MIN_HOURS} hourly values "
           "(GB 3095-2012).")

with guard("Inference"):
    bar = st.empty()

    def _progress(i: int, n: int) -> None:
        bar.progress(i / n, text=f"Surfaces of {n} days ({sc.model}): day {i + 1} of {n} …")

    exc, lat, lon, skipped = loaders.period_exceedance(sc.dataset, end.isoformat(), n_days, sc.model, sc.masked,
                                                       _on_day=_progress)
    bar.empty()
    if skipped:
        st.caption(f"No data on {', '.join(skipped)} (archive gap): those days are neither above nor below.")
    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = district != "" if (district != "").any() else np.ones(district.shape, bool)
    people = decision.cell_people(tuple(lat.tolist()), tuple(lon.tolist()))
    pop = np.where(inside, people, 0.0) if people is not None else None
    below, above = loaders.context()
    cols = st.columns(len(LIMITS))
    rows = []
    n_valid = exc.attrs["n_days"]
    for col, name in zip(cols, LIMITS, strict=True):
        days = np.where(inside, exc["days_above"].sel(limit=name).values, np.nan).astype(float)
        col.markdown(f"**{name}**")
        col.pydeck_chart(layers.deck([*below, image_layer(days_rgba(days, lat, n_valid), lat, lon, "days"), *above],
                                     info["bbox"], height_px=420, width_px=560), key=f"exc_map_{LIMITS[name]:g}",
                         height=420)
        col.markdown(days_legend_html(f"Days above, of {n_valid}", n_valid), unsafe_allow_html=True)
        row = {"limit": name, "median days above (cells)": float(np.nanmedian(days))}
        if pop is not None:
            pd_total = people_days(np.nan_to_num(days), pop)
            row["people × days above"] = people_text(pd_total) + " person-days"
            row["days above, population-weighted mean"] = round(pd_total / max(pop.sum(), 1), 1)
            row["people with ≥ 1 day above"] = people_text(float(pop[np.nan_to_num(days) >= 1].sum()))
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"Per grid cell inside BTH districts; 24-h means of the inferred hourly surface (µg/m³). People: 0.1° "
               f"population grid (2015). Source: {source_caption(info, f'surface inferred by {sc.model}')}.")
