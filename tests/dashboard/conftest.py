"""Shared harness of the dashboard tests.

AppTest (no browser): :func:`make_app` runs the frame of dashboard/app.py and one page on the demo,
:func:`goto`, :func:`texts`, :func:`assert_clean`; :data:`APP` is the real entry point. Real browser: a
`streamlit run` server on 127.0.0.1 and headless Chromium. Both: Streamlit cache helpers, test data folders.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from streamlit.testing.v1 import AppTest

from core.paths import REPO_ROOT

APP = str(REPO_ROOT / "dashboard" / "app.py")
APPTEST_TIMEOUT = 180  # the first run simulates the demo and imports torch
HARNESS = """
import runpy, sys
sys.path.insert(0, {root!r})
import streamlit as st
from dashboard.sidebar import frame
page = st.session_state.get("_test_page", {page!r})
frame(page)
runpy.run_path({pages!r} + "/" + page + ".py", run_name="__page__")
"""


def make_app(page: str = "hotspots", **query: str) -> AppTest:
    """The frame + one page (dashboard/views/), on the demo dataset unless the query says otherwise.

    Runs the same frame as dashboard/app.py (:func:`dashboard.sidebar.frame`), then the page file.
    """
    script = HARNESS.format(root=str(REPO_ROOT), page=page, pages=str(REPO_ROOT / "dashboard" / "views"))
    at = AppTest.from_string(script, default_timeout=APPTEST_TIMEOUT)
    at.query_params["dataset"] = "demo"
    at.query_params["model"] = "idw"  # fast and always present; tests that need another model say so
    for k, v in query.items():
        at.query_params[k] = v
    return at


def goto(at: AppTest, page: str) -> AppTest:
    """Switch page within the same session (state carries over, as in the browser)."""
    at.session_state["_test_page"] = page
    return at.run()


def texts(at: AppTest) -> str:
    """All markdown, captions and alerts of the current run, one string."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [a.value for a in (*at.info, *at.warning, *at.error, *at.success)]
    return "\n".join(str(p) for p in parts)


def assert_clean(at: AppTest) -> None:
    """The run raised nothing and showed no error."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
DATASET = os.environ.get("AIRATLAS_BROWSER_DATASET", "demo")
MODEL = os.environ.get("AIRATLAS_BROWSER_MODEL", "idw")  # a baseline by default: always present, no checkpoint
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


class _Server(str):
    """The base URL, plus when the server process was started (``time.perf_counter``) for the cold-start timing
    and its log file."""

    started: float = 0.0
    log: Path | None = None


def wait_for_log(server: str, text: str, timeout_s: float = 300) -> float:
    """Until the server's log holds ``text`` (e.g. dashboard.prefetch.DONE); seconds waited. Fails on timeout."""
    t0 = time.perf_counter()
    log = getattr(server, "log", None)
    if log is None:
        return 0.0
    while text not in log.read_text(errors="replace"):
        if time.perf_counter() - t0 > timeout_s:
            pytest.fail(f"the server log has no '{text}' after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)  # polling a file for a condition, not a fixed wait
    return time.perf_counter() - t0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("AIRATLAS_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (AIRATLAS_REQUIRE_BROWSER=1) but /usr/bin/chromium is missing; "
                        "run .ci/install-browser.sh")
        pytest.skip("Debian chromium not installed (.ci/install-browser.sh installs it)")
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A streamlit server on a free local port; yields its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = dict(os.environ)
    if DATASET == "demo":
        # An empty cache of the server's own. This module-scoped fixture is set up before the function-scoped
        # _isolated_cache of tests/conftest.py, so the inherited environment has no AIRATLAS_CACHE: the server
        # used to read and fill ~/.cache/airatlas (surfaces and demo from earlier runs made "cold start" warm,
        # and servers of concurrent runs shared one store).
        env["AIRATLAS_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    else:  # real data: reuse the user's parsed-data cache (a national parse takes minutes)
        env.pop("AIRATLAS_CACHE", None)
    env["AIRATLAS_PREFETCH"] = "1"  # the warm-up thread a real server runs (unit tests turn it off)
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "dashboard" / "app.py"),
           "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    started = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited early:\n{log.read_text()}")
                time.sleep(0.3)
        else:
            pytest.fail(f"streamlit did not start within 60 s:\n{log.read_text()}")
        url = _Server(f"http://127.0.0.1:{port}")
        url.started, url.log = started, log
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"\n--- streamlit log ({log}) ---\n{log.read_text()[-3000:]}")


class ExternalRequests(list):
    """Every request a page makes to a host other than 127.0.0.1 (the app must render offline).

    Attach with ``page.on("request", recorder)``; the recorder is the list of offending URLs.
    """

    def __call__(self, req) -> None:
        u = urlparse(req.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in LOCAL_HOSTS:
            self.append(req.url)


def _wait_idle(page, timeout_s: float = 120) -> None:
    """Until the script run has finished (Streamlit marks the app div with its script state)."""
    page.wait_for_timeout(150)
    page.wait_for_selector(IDLE, state="attached", timeout=timeout_s * 1000)


SHOWN_JS = """([sels, pat]) => sels.every((s) => document.querySelector(s) !== null)
    && (!pat || new RegExp(pat).test(document.body.innerText))"""
TWO_FRAMES_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
DECK_CANVAS = '[data-testid="stDeckGlJsonChart"] canvas'


def wait_shown(page, *selectors: str, text: str | None = None, idle: bool = True, timeout_s: float = 180) -> None:
    """Until the page shows its own content: every CSS selector attached, ``text`` (a JS regex) in the page's
    text and, with ``idle``, the script run ended; then two more animation frames, so a map that has just
    arrived has had its first frame drawn (deck.gl draws in animation frames).

    For timings. The condition is polled in the page every 50 ms: Playwright's own selector waits back off
    to one poll per 500 ms, which put up to half a second of waiting into a timing, and ``_wait_idle``'s
    leading pause is a fixed sleep. A run that has not started yet cannot pass: every timed wait names
    content that the run itself draws (a new caption, a canvas on a new page).
    """
    sels = [*selectors, *([IDLE] if idle else [])]
    page.wait_for_function(SHOWN_JS, arg=[sels, text], polling=50, timeout=timeout_s * 1000)
    page.evaluate(TWO_FRAMES_JS)


def _exceptions(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


@pytest.fixture(scope="module")
def fresh_streamlit_caches():
    """Streamlit caches are process-wide: start an AppTest module from empty ones (another module may have
    cached a demo built without data, whose station codes differ) and leave empty ones behind.
    Opt in per module: ``pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")``."""
    _clear_streamlit_caches()
    yield
    _clear_streamlit_caches()


def _clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def link_shared_geo(root: Path) -> None:
    """Link the real geo layers (../shared/data/geo) into a test data folder; skip the test without them."""
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "geo").is_dir():
        pytest.skip("real geo layers (../shared/data/geo) not present")
    (root / "geo").symlink_to(SHARED_DATA / "geo")


@contextmanager
def serving_data(root: Path, mp: pytest.MonkeyPatch):
    """The dashboard reads ``root`` (``$AIRATLAS_DATA``) with empty Streamlit caches, and leaves them empty."""
    mp.setenv("AIRATLAS_DATA", str(root))
    _clear_streamlit_caches()
    try:
        yield root
    finally:
        _clear_streamlit_caches()
