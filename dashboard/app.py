"""AirAtlas dashboard: a thin ``st.navigation`` frame around the shared sidebar and the pages.

Run: ``streamlit run dashboard/app.py`` (or ``bash scripts/dashboard.sh``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard.sidebar import render_sidebar  # noqa: E402
from dashboard.state import K_PAGE  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "pages"
PAGES = (  # (file stem = url path, title, icon)
    ("hotspots", "Hotspots", "🗺️"),
    ("masking_lab", "Masking lab", "🧪"),
    ("robustness", "Robustness", "📉"),
    ("attention", "Attention", "🔍"),
    ("justice", "Environmental justice", "⚖️"),
    ("about", "About", "ℹ️"),
)

st.set_page_config(page_title="AirAtlas — PM2.5 across Beijing–Tianjin–Hebei", page_icon="🌫️", layout="wide")

pages = {
    stem: st.Page(str(PAGES_DIR / f"{stem}.py"), title=title, icon=icon, url_path=stem, default=stem == "hotspots")
    for stem, title, icon in PAGES
    if (PAGES_DIR / f"{stem}.py").exists()  # justice.py is written by another team member; shown when present
}
nav = st.navigation(list(pages.values()))
ctx = render_sidebar()
st.session_state["ctx"] = ctx

# A link with ?page=<stem> opens that page (the URL path does the same; this keeps query-only links working).
wanted = st.session_state.pop(K_PAGE, None)
if wanted in pages and pages[wanted].url_path != nav.url_path:
    st.switch_page(pages[wanted])

if ctx is not None:
    page_keys = {k: v for k, v in st.query_params.to_dict().items() if k.startswith("ej_")}  # justice page's link
    st.query_params.from_dict(page_keys | ctx.scenario.to_query(page=nav.url_path or "hotspots"))
nav.run()
