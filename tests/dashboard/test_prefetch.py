"""The background warm-up (dashboard.prefetch) fills the shared caches and the surface store, once per server."""

from __future__ import annotations

import logging
import threading

import pytest
import streamlit as st
import xarray as xr
from streamlit.testing.v1 import AppTest

from core.paths import REPO_ROOT
from core.surface_store import SurfaceStore
from dashboard import decision, loaders, prefetch
from tests.data.make_data import make_cnemc_folder

APP = str(REPO_ROOT / "dashboard" / "app.py")


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
    from tests.dashboard.test_pages import make_app

    at = make_app("compare", dataset=tiny)
    at.run()
    assert not at.exception
    box = at.selectbox(key="cmp_model")
    options = decision.compare_model_b_options("idw")
    assert box.options == options and box.value == options[0] and options[0] in loaders.BASELINES
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
