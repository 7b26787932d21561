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

from dashboard import prefetch  # noqa: E402
from dashboard.sidebar import frame  # noqa: E402
from dashboard.state import K_PAGE  # noqa: E402

# Page files live in views/, not pages/: that folder name turns on Streamlit's legacy page discovery,
# which serves deep links (e.g. /justice) on a fresh server without this frame.
PAGES_DIR = Path(__file__).resolve().parent / "views"
PAGES = (  # (file stem = url path, title, icon: Material Symbols ship with Streamlit, emoji fonts may not)
    ("hotspots", "Hotspots", ":material/map:"),
    ("masking_lab", "Masking lab", ":material/visibility_off:"),
    ("robustness", "Robustness", ":material/show_chart:"),
    ("attention", "Attention", ":material/grid_on:"),
    ("justice", "Environmental justice", ":material/balance:"),
    ("siting", "Monitor siting", ":material/add_location_alt:"),
    ("compare", "Compare", ":material/compare:"),
    ("exceedance", "Days above limits", ":material/calendar_month:"),
    ("about", "About", ":material/info:"),
)

def _favicon():
    """A local favicon (a Material/emoji icon would make the browser fetch it from a font CDN)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((2, 2, 30, 30), fill=(255, 126, 0, 255), outline=(80, 80, 80, 255), width=2)
    return img


st.set_page_config(page_title="AirAtlas — PM2.5 across Beijing–Tianjin–Hebei", page_icon=_favicon(), layout="wide")

# Streamlit's frontend fetches and compiles a chart's library (deck.gl ~3 MB, plotly ~4.7 MB of JS) only when the
# first chart of that kind arrives, i.e. after the server has computed the page: on a cold start that added
# ~2-3 s after the script run. Importing those chunks while the server computes overlaps the two.
CHART_CHUNKS = ("DeckGlJsonChart", "PlotlyChart")


@st.cache_resource(show_spinner=False)
def _chart_chunk_files() -> tuple[str, ...]:
    """File names of the frontend chunks of :data:`CHART_CHUNKS` in this Streamlit build (hashed names)."""
    js = Path(st.__file__).parent / "static" / "static" / "js"
    return tuple(sorted(p.name for stem in CHART_CHUNKS for p in js.glob(f"{stem}.*.js")))


def _preload_charts() -> None:
    files = _chart_chunk_files()
    event = getattr(st, "_event", None)  # the container that takes no space on the page (toasts, styles)
    if not files or event is None:
        return
    # The chunks are imported relative to the entry module, exactly as the frontend's lazy imports resolve them,
    # so the later import is a hit in the page's module map. A failed import only means no head start.
    imports = "".join(f"import(new URL('./{f}', base).href).catch(() => {{}});" for f in files)
    event.html("<script>(() => { const e = document.querySelector('script[type=module][src*=\"/js/index.\"]');"
               f" if (!e) return; const base = e.src; {imports} }})();</script>", unsafe_allow_javascript=True)


_preload_charts()

def _root() -> None:
    """The app's root URL (never runs: the frame below sends "/" on to a page)."""


pages = {stem: st.Page(str(PAGES_DIR / f"{stem}.py"), title=title, icon=icon, url_path=stem)
         for stem, title, icon in PAGES}
# Streamlit serves its default page at "/" only and answers its url_path with "Page not found". So the default
# is a hidden stand-in for "/", which opens Hotspots (or the link's ?page=) at its own path: /hotspots works,
# and "/" and "/hotspots" are one page (menu highlight, links).
root = st.Page(_root, title="AirAtlas", url_path="start", default=True, visibility="hidden")
nav = st.navigation([root, *pages.values()])
with prefetch.page_run():  # the background warm-up waits for this run (dashboard.prefetch)
    if nav is root:
        first = st.query_params.get(K_PAGE)
        st.switch_page(pages.get(first, pages["hotspots"]), query_params=st.query_params.to_dict())
    ctx = frame(nav.url_path)

    # A link with ?page=<stem> opens that page (the URL path does the same; this keeps query-only links working).
    # switch_page clears the query unless handed it: pass it on, so page-owned keys (ej_*, threshold, place)
    # restore the scenario in the root form /?…&page=justice&… exactly as in /justice?….
    wanted = st.session_state.pop(K_PAGE, None)
    if wanted in pages and pages[wanted].url_path != nav.url_path:
        st.switch_page(pages[wanted], query_params=st.query_params.to_dict())
    if wanted and wanted not in pages:
        st.warning(f"The link names a page '{wanted}' that does not exist; showing {nav.title}. "
                   f"Pages: {', '.join(pages)}.")
    nav.run()
