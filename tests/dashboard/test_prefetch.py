"""The background warm-up (dashboard.prefetch) fills the shared caches and the surface store, once per server."""

from __future__ import annotations

import logging
import threading

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.paths import REPO_ROOT
from core.surface_store import SurfaceStore
from dashboard import loaders, prefetch

APP = str(REPO_ROOT / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


class _Recorder:
    """Wraps a cached loader and records the arguments of every call (the warm-up's and the pages')."""

    def __init__(self, func):
        self.func, self.calls = func, []

    def __call__(self, *args):
        self.calls.append(args)
        return self.func(*args)


def test_run_warms_every_step_and_stores_the_month(caplog: pytest.LogCaptureFixture, monkeypatch):
    info = loaders.dataset_info(loaders.DEMO)
    date = info["days_with_data"][-1]
    recorders = {name: _Recorder(getattr(loaders, name)) for name in ("run_scenario", "exposure_for")}
    for name, rec in recorders.items():
        monkeypatch.setattr(loaders, name, rec)
    with caplog.at_level(logging.INFO, logger="airatlas.dashboard"):
        took = prefetch.run(loaders.DEMO, date, "idw")
    assert list(took) == [name for name, _ in prefetch.steps(loaders.DEMO, date, "idw")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert any(prefetch.DONE in r.getMessage() for r in caplog.records)
    # Every day of the month with data has its surface in the store: a date change there reads it back.
    stored = list(SurfaceStore().root.glob("*.zarr"))
    days_in_month = [d for d in info["days_with_data"] if d[:7] == date[:7]]
    assert len(stored) >= len(days_in_month)
    # ... and the period the exceedance page opens with is already computed (shared memo).
    assert len(loaders._exceedance_memo()) == 1
    # The attention and justice pages, opened on the warm-up's scenario, ask only for what it computed.
    warmed = {name: set(rec.calls) for name, rec in recorders.items()}
    assert warmed["exposure_for"], "the justice step called no exposure"
    census = not any("prefetch justice skipped" in r.getMessage() for r in caplog.records)  # no census: no page
    for page in ("attention", "justice") if census else ("attention",):
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
