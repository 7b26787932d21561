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

Per session, smaller warm-ups run on niced worker threads: the days either side of the date a Hotspots map shows
(:func:`warm_neighbours`, a date change then reads them from memory) and the masking lab's queued hidden set
(:func:`warm_pending`, Rerun then finds the chosen model's run cached).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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

# Days either side of a shown date are read into the caches once no run has ended for this long: long enough that
# the user's next click (another hour, a widget) usually comes first (the warm-up would share the GIL with its run),
# short enough that a date change a second or two after the map finds the day in memory.
NEIGHBOUR_QUIET_S = 1.0
NEIGHBOURS_KEPT = 256  # scenarios remembered as warmed (a set per server process; oldest forgotten first)

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


def _lower_priority() -> None:
    """This thread's niceness to :data:`NICE` (never higher priority than it has)."""
    try:  # per thread on Linux; elsewhere (or without permission) the work simply runs at normal priority
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(NICE, os.getpriority(os.PRIO_PROCESS, tid)))
    except (AttributeError, OSError):
        pass


# Worker threads below the sessions' script runs (reniced once, when created). Their jobs start only while no
# script run is in progress: a niced thread that holds the GIL while the OS runs something else would stall a page's
# run (priority inversion), so they never run beside one on purpose. One per kind of job, so a neighbour warm-up
# waiting for idle pages never holds up a queued hidden set.
_ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="airatlas-ahead", initializer=_lower_priority)
_queued = ThreadPoolExecutor(max_workers=1, thread_name_prefix="airatlas-queued", initializer=_lower_priority)


def neighbour_days(info: dict, date: str) -> list[str]:
    """The days with data right before and after ``date`` (the day before first), within the dataset."""
    days = info["days_with_data"]
    if date not in days:
        return []
    i = days.index(date)
    return [days[j] for j in (i - 1, i + 1) if 0 <= j < len(days)]


def warm_neighbour(dataset: str, date: str, model: str, masked: tuple[str, ...]) -> None:
    """What a Hotspots date change to ``date`` reads, in the shared caches: the day's surface (from the surface
    store into memory), its station slice and reporting hours."""
    from dashboard import loaders

    loaders.window_slice(dataset, date)
    loaders.reporting_per_hour(dataset, date)
    loaders.run_scenario(dataset, date, model, masked, True)


_warmed: dict[tuple, None] = {}  # insertion-ordered set of scenarios whose neighbours were warmed
_warmed_lock = threading.Lock()


def warm_neighbours(dataset: str, info: dict, date: str, model: str, masked: tuple[str, ...]) -> bool:
    """Warm the days either side of ``date`` in the background, once per scenario and process (niced, after
    :data:`NEIGHBOUR_QUIET_S` without a script run). False when they were already queued.

    A date change then reads the day from memory instead of the surface store: on the demo (idw) the store's read
    took 0.04 s with the files in the page cache and 0.25 s on the loaded 2-core machine (cProfile of the page run),
    plus the day's station slice; the date-change run measured 0.75 s before, 0.37-0.57 s after (load ~6).
    """
    key = (dataset, date, model, tuple(masked))
    with _warmed_lock:
        if key in _warmed:
            return False
        _warmed[key] = None
        while len(_warmed) > NEIGHBOURS_KEPT:
            _warmed.pop(next(iter(_warmed)))

    def job() -> None:
        _quiet_context_warnings()
        for day in neighbour_days(info, date):
            wait_for_idle(quiet_s=NEIGHBOUR_QUIET_S)
            try:
                warm_neighbour(dataset, day, model, tuple(masked))
            except AirAtlasError as err:  # the page shows the error if the user goes there
                log.info("prefetch of %s skipped: %s", day, err)
            except Exception:  # noqa: BLE001 — a warm-up must never take the server down
                log.exception("prefetch of %s failed", day)

    _ahead.submit(job)
    return True


_pending: dict[tuple, tuple[str, ...]] = {}  # (dataset, date, model) → the latest queued hidden set asked for


def warm_pending(dataset: str, date: str, model: str, pending: tuple[str, ...]) -> bool:
    """The masking lab's chosen model on the hidden set queued for **Rerun**, computed in the background (niced)
    as soon as the page's run has ended; False when that set is already asked for.

    Rerun then finds the run in the cache and draws the map with its error bubbles at once (the chosen model is
    often a neural one, whose station run takes seconds). A set replaced by a newer one before its turn is
    skipped.
    """
    slot, want = (dataset, date, model), tuple(sorted(pending))
    with _warmed_lock:
        if _pending.get(slot) == want:
            return False
        _pending.pop(slot, None)
        _pending[slot] = want
        while len(_pending) > NEIGHBOURS_KEPT:
            _pending.pop(next(iter(_pending)))

    def job() -> None:
        _quiet_context_warnings()
        wait_for_idle()
        with _warmed_lock:
            if _pending.get(slot) != want:
                return  # superseded: the user queued another set meanwhile
        from dashboard import loaders

        try:
            loaders.run_scenario(dataset, date, model, want, False)
        except AirAtlasError as err:  # Rerun shows it
            log.info("prefetch of the queued hidden set skipped: %s", err)
        except Exception:  # noqa: BLE001 — a warm-up must never take the server down
            log.exception("prefetch of the queued hidden set failed")

    _queued.submit(job)
    return True


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
        att_model = loaders.attention_model(models)
        if att_model is not None:
            loaders.run_scenario(dataset, date, att_model, (), False,
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
    _lower_priority()  # below the sessions' own runs: a warm-up must not slow the page being opened
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


def _quiet_context_warnings() -> None:
    # Cached loaders called outside a script run warn once per call that there is no ScriptRunContext.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)


@st.cache_resource(show_spinner=False)
def start(dataset: str, model: str, _date: str) -> threading.Thread:
    """Start the warm-up for ``(dataset, model)`` once per server process (on the first session's date)."""
    _quiet_context_warnings()
    thread = threading.Thread(target=run, args=(dataset, _date, model), name="airatlas-prefetch", daemon=True)
    thread.start()
    return thread
