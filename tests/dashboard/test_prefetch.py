"""The background warm-up (dashboard.prefetch) fills the shared caches and the surface store, once per server."""

from __future__ import annotations

import logging
import os
import threading

import pytest
import streamlit as st
import xarray as xr
from streamlit.testing.v1 import AppTest

from core.surface_store import SurfaceStore
from dashboard import decision, loaders, prefetch
from tests.dashboard.conftest import APP, make_app
from tests.data.make_data import make_cnemc_folder


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def tiny(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A three-day CNEMC folder (4 stations) and an empty cache: the month is 3 surfaces, not the demo's 30."""
    make_cnemc_folder(tmp_path / "raw" / loaders.PRIMARY, start="2019-01-10", n_days=3)
    monkeypatch.setenv("AIRATLAS_DATA", str(tmp_path))
    monkeypatch.setenv("AIRATLAS_CACHE", str(tmp_path / "cache"))  # the store holds only what this run writes
    return loaders.PRIMARY


def test_run_warms_every_step_and_stores_the_month(tiny: str, caplog: pytest.LogCaptureFixture):
    info = loaders.dataset_info(tiny)
    date = info["days_with_data"][-1]
    with caplog.at_level(logging.INFO, logger="airatlas.dashboard"):
        took = prefetch.run(tiny, date, "idw")
    assert list(took) == [name for name, _ in prefetch.steps(tiny, date, "idw")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert any(prefetch.DONE in r.getMessage() for r in caplog.records)
    # Every day of the month with data has its surface in the store (a date change there reads it back), and the
    # compare page's default model B has the chosen day's: nothing else.
    stored = [xr.open_zarr(p, consolidated=False).attrs["airatlas_model"] for p in SurfaceStore().root.glob("*.zarr")]
    days_in_month = [d for d in info["days_with_data"] if d[:7] == date[:7]]
    model_b = decision.compare_model_b_options("idw")[0]
    assert model_b != "idw" and sorted(stored) == sorted(["idw"] * len(days_in_month) + [model_b])
    # ... and the period the exceedance page opens with is already computed (shared memo).
    assert len(loaders._exceedance_memo()) == 1


def test_compare_b_is_the_compare_pages_default(tiny: str, monkeypatch: pytest.MonkeyPatch):
    """One home for Compare's default model B: the page offers decision.compare_model_b_options, the warm-up
    computes its first."""
    at = make_app("compare", dataset=tiny)
    at.run()
    assert not at.exception
    box = at.selectbox(key="cmp_model")
    options = decision.compare_model_b_options("idw")
    assert box.options == options and box.value == options[0] and options[0] in loaders.CLASSICAL
    asked = []
    monkeypatch.setattr(loaders, "run_scenario", lambda ds, d, m, *a: asked.append(m))
    dict(prefetch.steps(tiny, "2019-01-12", "idw"))["compare"]()
    assert asked == [box.value]


def test_start_once_per_dataset_and_model(monkeypatch: pytest.MonkeyPatch):
    calls = []
    monkeypatch.setattr(prefetch, "run", lambda *a: calls.append(a))
    first = prefetch.start(loaders.DEMO, "idw", "2019-01-05")
    again = prefetch.start(loaders.DEMO, "idw", "2019-01-04")  # another date: the same warm-up
    other = prefetch.start(loaders.DEMO, "knn", "2019-01-05")
    for t in (first, again, other):
        t.join(timeout=30)
    assert first is again and other is not first
    assert sorted(calls) == [(loaders.DEMO, "2019-01-05", "idw"), (loaders.DEMO, "2019-01-05", "knn")]


@pytest.mark.parametrize(("value", "on"), [("0", False), ("1", True)])
def test_the_switch(monkeypatch: pytest.MonkeyPatch, value: str, on: bool):
    monkeypatch.setenv(prefetch.ENV, value)
    assert prefetch.enabled() is on


class _Recorder:
    """Wraps a cached loader and records the arguments of every call (the warm-up's and the pages')."""

    def __init__(self, func):
        self.func, self.calls = func, []

    def __call__(self, *args):
        self.calls.append(args)
        return self.func(*args)


@pytest.mark.realdata
def test_attention_and_justice_pages_ask_only_for_what_the_warm_up_computed(shared_data, monkeypatch):
    """The attention page's runs (aqnet attention, spin influence) and the justice page's exposure come from the
    warm-up's steps: opened on its scenario, the pages make no cached call the warm-up did not make."""
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))  # census units and population grid (justice)
    date = loaders.dataset_info(loaders.DEMO)["days_with_data"][-1]
    recorders = {name: _Recorder(getattr(loaders, name)) for name in ("run_scenario", "exposure_for")}
    for name, rec in recorders.items():
        monkeypatch.setattr(loaders, name, rec)
    steps = dict(prefetch.steps(loaders.DEMO, date, "idw"))
    steps["justice"]()
    steps["attention"]()
    warmed = {name: set(rec.calls) for name, rec in recorders.items()}
    assert warmed["exposure_for"] and warmed["run_scenario"]
    for page in ("attention", "justice"):
        for rec in recorders.values():
            rec.calls.clear()
        at = AppTest.from_file(APP, default_timeout=300)
        at.query_params.update({"dataset": loaders.DEMO, "model": "idw", "date": date, "page": page})
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        for name, rec in recorders.items():
            assert set(rec.calls) <= warmed[name], f"{page}: {name}{set(rec.calls) - warmed[name]} not warmed"
        assert any(rec.calls for rec in recorders.values()), f"{page} made no cached call (test not exercised)"


def test_steps_wait_for_running_pages():
    """A warm-up step starts only once no session's script run is in progress."""
    assert prefetch.wait_for_idle(timeout_s=5) < 5  # nothing running: no wait
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (prefetch.wait_for_idle(timeout_s=60), done.set()))
    with prefetch.page_run():
        waiter.start()
        assert not done.wait(timeout=0.5), "the step did not wait for the page run"
    assert done.wait(timeout=10), "the step did not start after the page run ended"
    waiter.join(timeout=10)


def test_warm_up_workers_run_niced():
    """The per-session warm-ups run below the pages' script runs (never above the process's own priority)."""
    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = priority()
    for pool in (prefetch._ahead, prefetch._queued):
        assert pool.submit(priority).result(timeout=30) == max(mine, prefetch.NICE)
    assert priority() == mine  # the caller keeps its own


@pytest.mark.parametrize(("date", "expected"), [
    ("2019-01-11", ["2019-01-10", "2019-01-13"]),  # the day before first; a day without data is skipped
    ("2019-01-10", ["2019-01-11"]),
    ("2019-01-13", ["2019-01-11"]),
    ("2019-01-12", []),  # not a day with data: nothing to warm
])
def test_neighbour_days(date: str, expected: list[str]):
    info = {"days_with_data": ["2019-01-10", "2019-01-11", "2019-01-13"]}
    assert prefetch.neighbour_days(info, date) == expected


def _flush_ahead() -> None:
    """Until the neighbour worker has run every job queued so far (one worker: jobs run in order)."""
    prefetch._ahead.submit(lambda: None).result(timeout=60)


def test_warm_neighbours_once_per_scenario_and_past_a_failing_day(monkeypatch: pytest.MonkeyPatch):
    from core.errors import InvalidRequest

    monkeypatch.setattr(prefetch, "_warmed", {})
    calls = []

    def warm(dataset, date, model, masked):
        calls.append((dataset, date, model, masked))
        if date == "2019-01-10":
            raise InvalidRequest("no data")

    monkeypatch.setattr(prefetch, "warm_neighbour", warm)
    info = {"days_with_data": ["2019-01-10", "2019-01-11", "2019-01-12"]}
    assert prefetch.warm_neighbours("d", info, "2019-01-11", "idw", ("A",)) is True
    assert prefetch.warm_neighbours("d", info, "2019-01-11", "idw", ("A",)) is False  # queued already
    _flush_ahead()
    assert calls == [("d", "2019-01-10", "idw", ("A",)), ("d", "2019-01-12", "idw", ("A",))]
    assert prefetch.warm_neighbours("d", info, "2019-01-11", "knn", ("A",)) is True  # another scenario
    _flush_ahead()
    assert len(calls) == 4


def test_hotspots_page_warms_its_neighbours_and_they_hold_what_a_date_change_reads(monkeypatch: pytest.MonkeyPatch):
    """The page queues its date's neighbours when the warm-up is on; warm_neighbour makes exactly the cached calls
    the page makes after a date change to that day (so the change finds them in memory)."""
    queued = []
    monkeypatch.setenv(prefetch.ENV, "1")
    monkeypatch.setattr(prefetch, "start", lambda *a: None)  # not the server-wide warm-up here
    monkeypatch.setattr(prefetch, "warm_neighbours", lambda *a: queued.append(a))
    at = make_app("hotspots").run()
    assert not at.exception, [e.value for e in at.exception]
    info = loaders.dataset_info(loaders.DEMO)
    date = at.session_state["ctx"].scenario.date
    assert queued == [(loaders.DEMO, info, date, "idw", ())]

    day = prefetch.neighbour_days(info, date)[0]
    recorders = {name: _Recorder(getattr(loaders, name))
                 for name in ("run_scenario", "window_slice", "reporting_per_hour")}
    for name, rec in recorders.items():
        monkeypatch.setattr(loaders, name, rec)
    prefetch.warm_neighbour(loaders.DEMO, day, "idw", ())
    warmed = {name: set(rec.calls) for name, rec in recorders.items()}
    for rec in recorders.values():
        rec.calls.clear()
    at = make_app("hotspots", date=day).run()
    assert not at.exception, [e.value for e in at.exception]
    for name, rec in recorders.items():
        asked = {c for c in rec.calls if day in c}
        assert asked, f"the page made no {name} call for {day} (test not exercised)"
        assert asked <= warmed[name], f"{name}{asked - warmed[name]} not warmed"


def test_warm_pending_runs_the_latest_queued_set_only(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(prefetch, "_pending", {})
    asked = []
    monkeypatch.setattr(loaders, "run_scenario", lambda *a: asked.append(a))
    gate = threading.Event()
    prefetch._queued.submit(gate.wait, 30)  # hold the worker: both sets are queued before either runs
    assert prefetch.warm_pending("d", "2019-01-11", "idw", ("B", "A")) is True
    assert prefetch.warm_pending("d", "2019-01-11", "idw", ("B", "A")) is False  # the same set: asked already
    assert prefetch.warm_pending("d", "2019-01-11", "idw", ("C",)) is True  # the user changed the set
    gate.set()
    prefetch._queued.submit(lambda: None).result(timeout=60)
    assert asked == [("d", "2019-01-11", "idw", ("C",), False)]  # ("A", "B") was superseded before its turn


def test_masking_lab_warms_the_queued_set_with_the_call_rerun_makes(monkeypatch: pytest.MonkeyPatch):
    """Hiding stations queues them (prefetch.warm_pending); the job's inference is the very call Rerun makes first."""
    real_warm, queued = prefetch.warm_pending, []
    monkeypatch.setattr(prefetch, "_pending", {})
    monkeypatch.setenv(prefetch.ENV, "1")
    monkeypatch.setattr(prefetch, "start", lambda *a: None)
    monkeypatch.setattr(prefetch, "warm_neighbours", lambda *a: None)
    monkeypatch.setattr(prefetch, "warm_pending", lambda *a: queued.append(a))
    at = make_app("masking_lab").run()
    assert not at.exception and queued == []  # nothing queued yet
    at.button(key="lab_hide_random").click().run()
    assert not at.exception, [e.value for e in at.exception]
    date = at.session_state["ctx"].scenario.date
    assert len(queued) == 1 and queued[0][:3] == (loaders.DEMO, date, "idw") and queued[0][3]

    rec = _Recorder(loaders.run_scenario)
    monkeypatch.setattr(loaders, "run_scenario", rec)
    assert real_warm(*queued[0])
    prefetch._queued.submit(lambda: None).result(timeout=120)
    assert len(rec.calls) == 1
    warmed = rec.calls[0]
    rec.calls.clear()
    at.button(key="lab_rerun").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert rec.calls and rec.calls[0] == warmed  # Rerun's first inference is the warmed one
