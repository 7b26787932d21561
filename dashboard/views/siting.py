"""Monitor siting: where N new monitors would help most people, on the current scenario's surface."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from core.hotspots import people_text
from core.paths import METRICS_DIR
from dashboard import decision, layers, loaders
from dashboard.siting_layers import site_layers
from dashboard.ui import guard, page_context, require_day, source_caption
from dashboard.uncertainty_control import legend, shown_view, view_control
from dashboard.uncertainty_layers import LEVEL, TOOLTIP, interval_text, probe_layer, view_layer

VALIDATION_FILE = METRICS_DIR / "siting_cnemc_bth_2019.json"
KIND_TEXT = {
    "interval_width": f"the width of the model's {LEVEL} interval (µg/m³)",
    "distance_to_nearest_monitor": "the distance to the nearest observed monitor (km): the error grows with it, and "
                                   "this ranking beat the interval width on validation days",
}

ctx = page_context("Where to put new monitors")
sc, info = ctx.scenario, ctx.info

c1, c2, c3, c4 = st.columns([1, 1, 1.3, 1])
n = c1.slider("New monitors", 1, 30, 10, key="site_n")
spacing = c2.number_input("Minimum spacing between new monitors (km)", 5.0, 150.0, 20.0, 5.0, key="site_spacing")
RANK_BY = {"distance to the nearest monitor (validated)": False, f"width of the {LEVEL} interval": True}
rank_by = c3.radio("Rank people ×", list(RANK_BY), key="site_rank_by",
                   help="The default won on validation days: restoring the top-ranked hidden stations cut MAE to "
                        "0.937× random (distance) vs 0.997× (interval width; widths grow with the level, so they "
                        "chase pollution rather than gaps). Same choice as the CLI's --uncertainty distance.")
if "site_view" not in st.session_state:
    st.session_state["site_view"] = "interval width"  # siting is about where the map is least sure
view = view_control("site_view", c4)
# Siting ranks the day's mean surface: a day without data stops here; a partial day's mean uses its hours with data.
hours = require_day(sc.dataset, sc.date, None, consequence="The map below averages those hours only, and the "
                    "interval widths rest on a day with little data: prefer a full day for siting.")

with guard("Siting"):
    with st.spinner(f"Ranking places on the {sc.model} surface …"):
        table, kind = decision.sites(sc.dataset, sc.date, sc.model, sc.masked, int(n), float(spacing),
                                     RANK_BY[rank_by])
        result = loaders.run_scenario(sc.dataset, sc.date, sc.model, sc.masked, True)
    grid = result.grid
    lat, lon = grid["lat"].values, grid["lon"].values
    field = grid["pm25"].isel(time=hours).mean("time").values
    g_lo, g_hi = decision.shown_interval(grid.isel(time=hours), None)
    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    if (district != "").any():
        field = np.where(district != "", field, np.nan)
    sl = loaders.window_slice(sc.dataset, sc.date)
    truth = loaders.truth_of(sc.dataset, sc.date)
    obs_mask = loaders.observed_mask(sl, sc.masked)
    stations = layers.station_frame(sl["station"].values, sl["name"].values, sl["city"].values, sl["lat"].values,
                                    sl["lon"].values, obs_mask,
                                    np.where(obs_mask, truth.mean("time").values, np.nan))
    s_lo, s_hi = decision.station_interval(result, None)
    stations["interval"] = interval_text(s_lo, s_hi, len(stations))
    if g_lo is not None and (district != "").any():
        g_lo, g_hi = np.where(district != "", g_lo, np.nan), np.where(district != "", g_hi, np.nan)
    has_interval = g_lo is not None
    below, above = loaders.context()
    deck = layers.deck([*below, view_layer(shown_view(view, has_interval), field, lat, lon, g_lo, g_hi), *above,
                        probe_layer(field, lat, lon, g_lo, g_hi), layers.station_layer(stations),
                        *site_layers(table)], info["bbox"], tooltip=TOOLTIP, height_px=560)
    st.markdown(f"**{len(table)} proposed sites** for {sc.date} · {sc.model} · ranked by people × "
                f"{KIND_TEXT[kind]}")
    st.pydeck_chart(deck, key="site_map", height=560)
    legend(view, "daily mean", has_interval, sc.model)
    st.caption(
        "Blue numbered dots: proposed monitors; circles: existing stations. Greedy: each pick brings the nearest "
        f"monitor closer to its neighbours, so their benefit drops; picks stay ≥ {spacing:g} km apart. "
        f"People: 0.1° population grid (2015). Source: {source_caption(info, f'surface inferred by {sc.model}')}."
    )
    shown = pd.DataFrame({
        "rank": table["rank"], "district": table["district"],
        "lat (°N)": table["lat"].round(3), "lon (°E)": table["lon"].round(3),
        "people in the cell": table["people"].map(people_text),
        ("90 % interval width (µg/m³)" if kind == "interval_width" else "nearest monitor (km)"):
            table["uncertainty"].round(1),
        "benefit score": table["score"].map(lambda v: f"{v:,.0f}"),
    })
    st.dataframe(shown, hide_index=True, width="stretch")
    st.download_button("Download the sites (CSV)", table.to_csv(index=False).encode("utf-8"),
                       file_name=f"sites_{sc.dataset}_{sc.date}_{sc.model}_n{n}.csv", mime="text/csv",
                       key="site_csv")

st.subheader("Does the ranking work?")
reports = []
for path in (VALIDATION_FILE.with_name(VALIDATION_FILE.stem + "_distance.json"), VALIDATION_FILE):  # default first
    try:
        reports.append((path.name, json.loads(path.read_text(encoding="utf-8"))["validation"]))
    except (OSError, ValueError, KeyError):
        continue
if not reports:
    st.info("No validation report yet: run `python -m core siting --dataset cnemc_bth_2019 --date 2019-01-12 "
            "--n 10 --json assets/metrics/siting_cnemc_bth_2019.json`.")
rows = [{"ranking score": "people × " + ("90 % interval width" if v.get("uncertainty") == "interval_width"
                                          else "distance to nearest monitor"),
         "MAE, top-ranked restored (µg/m³)": round(v["ranked_mae"], 2),
         "MAE, as many at random (µg/m³)": round(v["random_mae"], 2), "ratio (lower is better)": round(v["ratio"], 3),
         "seeds where ranked is better": f"{v.get('seeds_ranked_better', '?')} of {len(v['seeds'])}", "file": name}
        for name, v in reports]
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    v = reports[0][1]
    st.caption(
        f"Masking experiment on cnemc_bth_2019, {v.get('hours', 'validation days')}: S_test stations dropped; per "
        f"seed ({', '.join(map(str, v['seeds']))}) {v.get('hide_share', 0.5):.0%} of the other BTH stations hidden, "
        f"the {v.get('k', '?')} hidden stations ranked highest by the score restored vs {v.get('k', '?')} at random "
        f"({v.get('random_draws_per_seed', '?')} draws per seed); MAE at the hidden stations restored by neither "
        "(same stations for both). Model idw."
    )
