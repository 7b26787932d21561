"""The shared sidebar, defined once: dataset, date, hour or daily mean, model, device.

It restores the scenario from the URL on a session's first run, validates it against the
data, and mirrors it back into ``st.query_params`` on every run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from core.errors import AirAtlasError
from core.paths import MODELS_DIR
from dashboard import loaders
from dashboard.state import (
    DAILY_MEAN,
    K_DATASET,
    K_DATE,
    K_HOUR,
    K_INIT,
    K_MASKED,
    K_MODEL,
    K_PENDING,
    K_URL,
    QUERY_KEYS,
    Scenario,
    query_to_state,
)

DEFAULT_DATE = {loaders.PRIMARY: "2019-01-12"}  # a winter episode: hotspots are visible on first load
PREFERRED_MODELS = ("spin", "aqnet", "idw")


@dataclass(frozen=True)
class Context:
    scenario: Scenario
    info: dict
    device: str


def _init_from_url() -> list[str]:
    """Copy the URL's scenario into session state once per session; returns problems to show."""
    if st.session_state.get(K_INIT):
        return []
    st.session_state[K_INIT] = True
    st.session_state[K_URL] = st.query_params.to_dict()  # pages restore their own keys from it
    state = query_to_state(st.query_params.to_dict())
    notes = []
    if state.get(K_HOUR) == "invalid":
        notes.append("The hour in the link is not 0–23 or 'mean'; showing the daily mean.")
        state[K_HOUR] = DAILY_MEAN
    for k, v in state.items():
        st.session_state[k] = v
    return notes


def _default_date(info: dict) -> str:
    days = info["days_with_data"]
    want = DEFAULT_DATE.get(info["name"])
    if want in days:
        return want
    return days[min(loaders.HISTORY_DAYS, len(days) - 1)] if days else info["start"]


def _default_model(models: list[str]) -> str:
    """The best model on validation days that loads here (``evaluate --split val`` reports), else the
    preferred order; a learned one only if its checkpoint loads."""
    for m in [*loaders.validation_ranking(), *PREFERRED_MODELS]:
        if m not in models:
            continue
        if m in loaders.CLASSICAL:
            return m
        if (MODELS_DIR / m / "model.pt").exists():
            try:
                loaders.load_model(m)
                return m
            except AirAtlasError:  # e.g. a checkpoint from an older architecture: skip it by default
                continue
    return models[0]


def national_hint(info: dict) -> str:
    """What changes on a national network: extent, grid, speed, and the layers that stay BTH-only."""
    w, s, e, n = info["bbox"]
    res = loaders.grid_res(info)
    return (f"**National network** ({info['n_stations']:,} stations): maps cover China ({w:g}–{e:g} °E, "
            f"{s:g}–{n:g} °N) on a {res:g}° grid and are **slower** than over BTH — the first surface of a day "
            "takes seconds to minutes (stored for every later view). District names and population (people "
            "counts, siting) exist for BTH only.")


def date_marks(info: dict, date: str) -> str:
    """The date picker's marks: this month's partial (hours with data) and missing days, and the chosen one's state."""
    month = date[:7]
    partial = {d: n for d, n in info.get("partial_days", {}).items() if d.startswith(month)}
    missing = [d for d in info.get("missing_days", []) if d.startswith(month)]
    parts = []
    if date in missing:
        parts.append(f"**{date}: no data at all** (archive gap).")
    elif date in partial:
        parts.append(f"**{date}: partial day**, data in {partial[date]} of 24 hours.")
    if partial:
        parts.append(f"Partial days in {month}: " + ", ".join(f"{d[8:]} ({n} h)" for d, n in sorted(partial.items())))
    if missing:
        parts.append(f"Missing days in {month}: " + ", ".join(d[8:] for d in missing))
    return " · ".join(parts)


def render_sidebar() -> Context | None:
    """Draw the sidebar; return the scenario context, or None (with a message) if nothing can be shown."""
    notes = _init_from_url()
    sb = st.sidebar
    sb.title("AirAtlas")
    sb.caption("PM2.5 where no monitor stands · Beijing–Tianjin–Hebei")

    names = loaders.available_datasets()
    if st.session_state.get(K_DATASET) not in names:
        if st.session_state.get(K_DATASET):
            notes.append(f"Dataset '{st.session_state[K_DATASET]}' is not available here; showing "
                         f"{loaders.default_dataset()}.")
        st.session_state[K_DATASET] = loaders.default_dataset()
    dataset = sb.selectbox("Dataset", names, key=K_DATASET,
                           format_func=lambda n: "demo (synthetic simulator)" if n == loaders.DEMO else n)
    try:
        info = loaders.dataset_info(dataset)
    except AirAtlasError as err:
        for n in notes:
            st.warning(n)
        st.error(f"Cannot load dataset '{dataset}': {err}")
        return None
    if info.get("national"):
        sb.caption(national_hint(info))

    lo, hi = dt.date.fromisoformat(info["start"]), dt.date.fromisoformat(info["end"])
    cur = st.session_state.get(K_DATE)
    if isinstance(cur, str):
        try:
            cur = dt.date.fromisoformat(cur)
        except ValueError:
            notes.append(f"'{cur}' in the link is not a date (YYYY-MM-DD).")
            cur = None
    if cur is not None and not (lo <= cur <= hi):
        notes.append(f"{cur} is outside the data ({lo} … {hi}); showing {_default_date(info)}.")
        cur = None
    if cur is None:
        cur = dt.date.fromisoformat(_default_date(info))
    st.session_state[K_DATE] = cur
    date = sb.date_input("Date (Beijing time)", min_value=lo, max_value=hi, key=K_DATE)
    day_note = date_marks(info, date.isoformat())
    if day_note:
        sb.caption(day_note)

    if st.session_state.get(K_HOUR) not in [DAILY_MEAN, *range(24)]:
        st.session_state[K_HOUR] = DAILY_MEAN
    n_rep = loaders.reporting_per_hour(dataset, date.isoformat()).sum(axis=1)
    hour = sb.selectbox("Hour or daily mean", [DAILY_MEAN, *range(24)], key=K_HOUR,
                        format_func=lambda h: h if h == DAILY_MEAN else
                        f"{h:02d}:00" + ("" if n_rep[h] else " — no data"))

    try:
        models = loaders.model_names()
    except AirAtlasError as err:
        st.error(f"Cannot list models: {err}")
        return None
    if not models:
        st.error("No model is registered yet (core/baselines and core/nn/models). Nothing can be inferred.")
        return None
    if st.session_state.get(K_MODEL) not in models:
        if st.session_state.get(K_MODEL):
            notes.append(f"Model '{st.session_state[K_MODEL]}' is not available; choose one of {', '.join(models)}.")
        st.session_state[K_MODEL] = _default_model(models)
    model = sb.selectbox("Model", models, key=K_MODEL)
    device = loaders.device_name(model)
    sb.caption(f"Inference runs on **{device}**.")

    # Hidden stations must belong to this dataset (a link may carry codes from another one).
    valid = set(loaders.load_dataset(dataset)["station"].values.astype(str))
    masked = tuple(sorted(c for c in st.session_state.get(K_MASKED, ()) if c in valid))
    dropped = set(st.session_state.get(K_MASKED, ())) - set(masked)
    if dropped:
        notes.append(f"{len(dropped)} hidden station code(s) are not in {dataset} and were ignored.")
        st.session_state[K_PENDING] = [c for c in st.session_state.get(K_PENDING, []) if c in valid]
    st.session_state[K_MASKED] = masked
    if masked:
        sb.caption(f"{len(masked)} station(s) hidden (set in the Masking lab).")

    for n in notes:
        st.warning(n)
    scenario = Scenario(dataset=dataset, date=date.isoformat(), hour=None if hour == DAILY_MEAN else int(hour),
                        model=model, masked=masked)
    return Context(scenario=scenario, info=info, device=device)


def frame(page: str) -> Context | None:
    """What every page run needs first: the sidebar, ``ctx`` in session state, the URL mirrored.

    Pages read ``st.session_state["ctx"]`` (None when nothing can be shown; the reason is on screen).
    """
    ctx = render_sidebar()
    st.session_state["ctx"] = ctx
    from dashboard import prefetch

    if ctx is not None and prefetch.enabled():
        prefetch.start(ctx.scenario.dataset, ctx.scenario.model, ctx.scenario.date)
    if ctx is not None:
        # Keys the frame does not own (e.g. the justice page's ``ej_*``) stay in the link.
        own = {k: v for k, v in st.query_params.to_dict().items() if k not in QUERY_KEYS}
        st.query_params.from_dict(own | ctx.scenario.to_query(page=page))
    return ctx
