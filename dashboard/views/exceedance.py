"""Exceedance days over a period: per place, days whose 24-h mean is above WHO 15 and GB 75, and people × days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st

from core.exceedance import LIMITS, MIN_HOURS, people_days
from core.hotspots import people_text
from dashboard import decision, layers, loaders
from dashboard.exceedance_layers import days_scale
from dashboard.ui import guard, page_context, source_caption
from dashboard.uncertainty_control import legend, shown_view, view_control
from dashboard.uncertainty_layers import LEVEL, view_layer

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
view = view_control("exc_view", horizontal=True)
n_days = (end - start).days + 1
st.caption(f"{start} … {end} ({n_days} days) · {sc.model} · each day is the surface the Hotspots page shows for it "
           f"(inferred once, then read from the surface store); a day counts when it has ≥ {MIN_HOURS} hourly values "
           "(GB 3095-2012).")

with guard("Inference"):
    # Checked first: the period loop reads "every station hidden" as days without data. On the whole dataset, not
    # the chosen day: that day may be an archive gap inside a period that has data.
    if not loaders.observed_mask(loaders.load_dataset(sc.dataset), sc.masked).any():
        st.error("Every station is hidden: nothing is left to infer from. Unhide some stations in the Masking lab.")
        st.stop()
    bar = st.empty()

    def _progress(i: int, n: int) -> None:
        bar.progress(i / n, text=f"Surfaces of {n} days ({sc.model}): day {i + 1} of {n} …")

    exc, lat, lon, skipped = loaders.period_exceedance(sc.dataset, end.isoformat(), n_days, sc.model, sc.masked,
                                                       _on_day=_progress)
    bar.empty()
    if skipped:
        st.caption(f"No data on {', '.join(skipped)} (archive gap): those days are neither above nor below.")
    short = {d: h for d, h in sorted(info.get("partial_days", {}).items())
             if start.isoformat() <= d <= end.isoformat() and h < MIN_HOURS}
    if short:
        st.caption(f"Fewer than {MIN_HOURS} hours with data on "
                   + ", ".join(f"{d} ({h} of 24 hours)" for d, h in short.items())
                   + ": no valid 24-h mean, so those days are neither above nor below.")
    n_valid = int(exc["valid_days"].max()) if exc["valid_days"].size else 0
    if n_valid == 0:
        st.warning(f"**No day in {start} … {end} has a valid 24-h mean** (≥ {MIN_HOURS} hours with data): nothing "
                   "to count. Choose a period with full days of data.")
        st.stop()
    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = district != "" if (district != "").any() else np.ones(district.shape, bool)
    people = decision.cell_people(tuple(lat.tolist()), tuple(lon.tolist()))
    pop = np.where(inside, people, 0.0) if people is not None else None
    below, above = loaders.context()
    cols = st.columns(len(LIMITS))
    rows = []
    has_interval = {"days_above_lo", "days_above_hi"} <= set(exc.data_vars)
    scale = days_scale(n_valid)

    def _days(var: str, name: str) -> np.ndarray:
        return np.where(inside, exc[var].sel(limit=name).values, np.nan).astype(float)

    for col, name in zip(cols, LIMITS, strict=True):
        days = _days("days_above", name)
        d_lo, d_hi = (_days("days_above_lo", name), _days("days_above_hi", name)) if has_interval else (None, None)
        col.markdown(f"**{name}**")
        col.pydeck_chart(layers.deck([*below, view_layer(shown_view(view, has_interval), days, lat, lon, d_lo, d_hi,
                                                         scale, "days"), *above],
                                     info["bbox"], height_px=420, width_px=layers.HALF_WIDTH_PX),
                         key=f"exc_map_{LIMITS[name]:g}", height=420)
        legend(view, "", has_interval, sc.model, scale, col, tooltips=False,
               title=f"Days above, of {n_valid}" + (f" (estimate; {LEVEL} interval in the table)" if has_interval
                                                    else ""),
               width_title=f"Days the {LEVEL} interval leaves undecided (one bound above, one below), of {n_valid}")
        row = {"limit": name, "median days above (cells)": float(np.nanmedian(days))}
        if pop is not None:
            pd_total = people_days(np.nan_to_num(days), pop)
            row["people × days above"] = people_text(pd_total) + " person-days"
            if has_interval:
                lo_t, hi_t = people_days(np.nan_to_num(d_lo), pop), people_days(np.nan_to_num(d_hi), pop)
                row[f"people × days above, {LEVEL} interval"] = f"{people_text(lo_t)}–{people_text(hi_t)}"
            row["days above, population-weighted mean"] = round(pd_total / max(pop.sum(), 1), 1)
            row["people with ≥ 1 day above"] = people_text(float(pop[np.nan_to_num(days) >= 1].sum()))
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"Per grid cell inside BTH districts; 24-h means of the inferred hourly surface (µg/m³). People: 0.1° "
               f"population grid (2015). Source: {source_caption(info, f'surface inferred by {sc.model}')}."
               + (f" {LEVEL} interval of the counts: days counted on the 24-h means of the hourly lower and upper "
                  f"bounds of the {LEVEL} interval." if has_interval else ""))
