"""Small Streamlit helpers shared by the pages: error guard, banners, source captions."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from core.errors import AirAtlasError
from core.paths import HOW_TO_GET_DATA

log = logging.getLogger("airatlas.dashboard")


@contextmanager
def guard(what: str) -> Iterator[None]:
    """Show a problem inside ``with guard(...)`` as a message in the page, never a traceback.

    AirAtlasError messages are written for users and shown as they are; anything else is a bug,
    logged with its traceback on the server and summarised in the page.
    """
    try:
        yield
    except AirAtlasError as err:
        st.error(f"{what}: {err}")
    except Exception as err:  # noqa: BLE001 — the page must stay usable whatever a model does
        log.error("%s failed:\n%s", what, traceback.format_exc())
        st.error(f"{what} failed unexpectedly ({type(err).__name__}: {err}). The details are in the server log.")


def demo_banner() -> None:
    st.info(
        "**Demo scenario** — these are simulated stations from AirAtlas's advection–diffusion simulator, "
        f"not real measurements. {HOW_TO_GET_DATA}",
        icon=":material/science:",
    )


def source_caption(info: dict, extra: str = "") -> str:
    """"Source: …" text for figures: dataset provenance plus what the figure adds."""
    src = "AirAtlas synthetic simulator (demo)" if info.get("demo") else (info.get("citation") or info.get("source"))
    src = src.split(";")[0][:160]
    return f"{src}{' · ' + extra if extra else ''}"


COUNT_WORDS = ("population", "people", "km²", "persons")


def readable_numbers(frame) -> dict:
    """``column_config`` for ``st.dataframe``: counts and areas (population, people, km²) with thousands
    separators and no decimals, instead of Streamlit's bare 172812."""
    return {c: st.column_config.NumberColumn(format="localized") for c in frame.columns
            if any(w in str(c) for w in COUNT_WORDS) and frame[c].dtype.kind in "iuf"}


def link_value(key: str) -> str | None:
    """A page-owned URL key: from the current query, else from the query the session was opened with."""
    from dashboard.state import K_URL

    val = st.query_params.get(key)
    return val if val is not None else st.session_state.get(K_URL, {}).get(key)


def page_context(title: str):
    """Header, the scenario the shared sidebar built (or stop with a hint), and the demo banner.

    Every page starts with this, so the sidebar → page hand-over lives in one place.
    """
    st.header(title)
    ctx = st.session_state.get("ctx")
    if ctx is None:
        st.info("Choose a dataset and a model in the sidebar first.")
        st.stop()
    if ctx.info["demo"]:
        demo_banner()
    return ctx


def require_day(dataset: str, date: str, hour: int | None = None, consequence: str | None = None,
                what: str = ""):
    """Hours (0–23) of ``date`` in which some station reported PM2.5; a page calls it before inferring a day.

    Stops the page with a clear message on a day without any data (an archive gap) or an ``hour`` without any
    report; warns on a partial day (``consequence``: what that means for the page; the daily-mean caveat by
    default) when the page shows a daily mean (``hour`` None). ``what`` prefixes the messages (e.g. "Date B").
    """
    import numpy as np

    from dashboard import coverage, loaders

    hours = np.flatnonzero(loaders.reporting_per_hour(dataset, date).any(axis=1))
    pre = f"{what}: " if what else ""
    if not len(hours):
        st.warning(pre + coverage.missing_day_text(date))
        st.stop()
    if hour is not None and hour not in hours:
        st.warning(pre + coverage.empty_hour_text(date, hour, hours))
        st.stop()
    if hour is None and len(hours) < 24:
        st.warning(pre + coverage.partial_day_text(date, hours, consequence or coverage.PARTIAL_MEAN))
    return hours


def selection_in_scope(objects: dict, scope: object, state_key: str) -> dict:
    """A map's selected ``objects`` if they were picked under ``scope``, else ``{}``.

    A chart keeps its key across scenarios (a new key rebuilds the browser's map from scratch), so its
    selection outlives the scenario it was made in. A selection seen for the first time belongs to the
    current scope; the same selection under another scope is stale.
    """
    import json

    sig = json.dumps(objects, sort_keys=True, default=str)
    seen = st.session_state.get(state_key)
    if seen is None or seen[0] != sig:
        st.session_state[state_key] = seen = (sig, scope)
    return objects if seen[1] == scope else {}
