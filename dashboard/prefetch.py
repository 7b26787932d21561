"""Background warm-up of the caches every session shares, so the other pages open at once.

The first session that shows a (dataset, model) starts one daemon thread per server process
(``st.cache_resource`` keeps it); it fills the same cached loaders the pages call — context images,
the day's surface, district names and people per cell, the compare page's second surface, the
month's surfaces (the exceedance page, and every date change within the month, reads them from the
surface store), the siting ranking, the justice page's exposure and the attention page's runs (torch
loads here, off the request path). Streamlit computes a cached value once under a per-key lock, so a
page that asks for a value the thread is computing waits for it instead of computing it again. Each
step starts only when no session's script run is in progress (:func:`page_run`).

The server log gets one line when the thread is done (:data:`DONE`); the browser test waits for it
before timing "server warm" first loads.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from core.errors import AirAtlasError

log = logging.getLogger("airatlas.dashboard")
DONE = "AirAtlas prefetch done"
NICE = 10  # the thread's scheduling niceness (Linux: per thread)
ENV = "AIRATLAS_PREFETCH"  # "0" turns the warm-up off (the unit tests do: they clear the caches it fills)
# After a script run ends the browser still builds that page (chart libraries, deck.gl's WebGL set-up, on the same
# 2 cores, served by this process): a step waits until no run has ended for this long.
QUIET_S = 3.0
MAX_YIELD_S = 30.0  # longest a step waits for the sessions' script runs to end before it runs anyway

_runs = 0  # script runs in progress (every session), see :func:`page_run`
_last_end = 0.0  # time.monotonic() when the last script run ended
_idle = threading.Condition()


@contextmanager
def page_run() -> Iterator[None]:
    """Wrap a session's script run: the warm-up starts its next step only when no run is in progress
    (and none ended in the last :data:`QUIET_S`).

    The thread shares the process (and its GIL) with the sessions: a step running beside the first page
    would slow that page's own work (measured: the cold start's first map), so it waits for it to end.
    """
    global _runs
    with _idle:
        _runs += 1
    try:
        yield
    finally:
        with _idle:
            global _last_end
            _runs -= 1
            _last_end = time.monotonic()
            _idle.notify_all()


def wait_for_idle(timeout_s: float = MAX_YIELD_S, quiet_s: float = 0.0) -> float:
    """Until no script run is in progress and none ended in the last ``quiet_s`` (at most ``timeout_s``); seconds
    waited."""
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    with _idle:
        while time.monotonic() < deadline:
            _idle.wait_for(lambda: _runs == 0, timeout=max(0.0, deadline - time.monotonic()))
            left = quiet_s - (time.monotonic() - _last_end)
            if _runs == 0 and left <= 0:
                break
            _idle.wait(timeout=max(0.01, min(left, deadline - time.monotonic())))
    return time.perf_counter() - t0


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0"


def steps(dataset: str, date: str, model: str) -> list[tuple[str, Callable[[], object]]]:
    """The warm-up steps for a scenario, most needed first: (name, call)."""
    from dashboard import decision, loaders

    def grid_parts() -> None:
        res = loaders.run_scenario(dataset, date, model, (), True)
        if res.grid is None:
            return
        lat, lon = tuple(res.grid["lat"].values.tolist()), tuple(res.grid["lon"].values.tolist())
        loaders.district_of_cells(lat, lon)
        decision.cell_people(lat, lon)

    def compare_b() -> None:  # the compare page's default model B, from the one place that defines it
        loaders.run_scenario(dataset, date, decision.compare_model_b_options(model)[0], (), True)

    def month() -> None:
        # The exceedance page's default period: the month of the date, clipped to the data.
        info = loaders.dataset_info(dataset)
        d = dt.date.fromisoformat(date)
        first, last = dt.date.fromisoformat(info["start"]), dt.date.fromisoformat(info["end"])
        end = min((d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1), last)
        start = max(d.replace(day=1), first)
        loaders.period_exceedance(dataset, end.isoformat(), (end - start).days + 1, model, ())

    def justice() -> None:
        # The justice page's defaults (dashboard/views/justice.py): the week ending on the date, population grid.
        info = loaders.dataset_info(dataset)
        start, end = loaders.period_bounds(date, loaders.EXPOSURE_DEFAULTS["period"], info["start"], info["end"])
        loaders.exposure_for(dataset, model, (), start, end, loaders.EXPOSURE_DEFAULTS["weighting"])

    def attention() -> None:
        # The attention page's two runs (dashboard/views/attention.py): aqnet's attention over the last days,
        # the first trained model's spatial influence. Loads torch and the checkpoints off the request path.
        models = loaders.model_names()
        if loaders.ATTENTION_MODEL in models and loaders.has_checkpoint(loaders.ATTENTION_MODEL):
            loaders.run_scenario(dataset, date, loaders.ATTENTION_MODEL, (), False,
                                 loaders.attention_days(loaders.dataset_info(dataset), date))
        for m in loaders.influence_models(models)[:1]:
            loaders.run_scenario(dataset, date, m, (), False)

    return [
        ("context", lambda: loaders.context(True)),
        ("surface", grid_parts),
        ("places", lambda: decision.place_index(dataset)),
        ("compare", compare_b),
        ("siting", lambda: decision.sites(dataset, date, model, (), 10, 20.0, False)),
        ("justice", justice),
        ("attention", attention),
        ("month", month),
    ]


def run(dataset: str, date: str, model: str) -> dict[str, float]:
    """Run every step (a failing step is logged and skipped: the page will show its error); seconds per step."""
    took: dict[str, float] = {}
    t_all = time.perf_counter()
    try:  # below the sessions' own runs: a warm-up must not slow the page being opened
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):
        pass
    for name, call in steps(dataset, date, model):
        wait_for_idle(quiet_s=QUIET_S)
        t0 = time.perf_counter()
        try:
            call()
        except AirAtlasError as err:
            log.info("prefetch %s skipped: %s", name, err)
        except Exception:  # noqa: BLE001 — a warm-up must never take the server down
            log.exception("prefetch %s failed", name)
        took[name] = round(time.perf_counter() - t0, 2)
    log.warning("%s: %s/%s/%s in %.1f s %s", DONE, dataset, model, date, time.perf_counter() - t_all, took)
    return took


@st.cache_resource(show_spinner=False)
def start(dataset: str, model: str, _date: str) -> threading.Thread:
    """Start the warm-up for ``(dataset, model)`` once per server process (on the first session's date)."""
    # Cached loaders called outside a script run warn once per call that there is no ScriptRunContext.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    thread = threading.Thread(target=run, args=(dataset, _date, model), name="airatlas-prefetch", daemon=True)
    thread.start()
    return thread
